import type { ComponentProps } from 'react';
import ReactMarkdown from 'react-markdown';

/** Links open in a new tab that cannot reach back to this page. */
function ExternalLink(props: ComponentProps<'a'>) {
  const { node: _node, ...rest } = props as ComponentProps<'a'> & { node?: unknown };
  return <a {...rest} target="_blank" rel="noopener noreferrer" />;
}

/**
 * Comment text as Markdown. Raw HTML in it stays text (react-markdown renders none without
 * rehype-raw), and its URL filter drops `javascript:` and other unsafe links.
 */
export function Markdown({ source }: { source: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown skipHtml components={{ a: ExternalLink }}>
        {source}
      </ReactMarkdown>
    </div>
  );
}
