import { type ComponentProps, useMemo } from 'react';
import ReactMarkdown from 'react-markdown';

/** Links open in a new tab that cannot reach back to this page. */
function ExternalLink(props: ComponentProps<'a'>) {
  const { node: _node, ...rest } = props as ComponentProps<'a'> & { node?: unknown };
  return <a {...rest} target="_blank" rel="noopener noreferrer" />;
}

/** The part of a Markdown syntax tree (mdast) the mention pass reads and writes. */
interface MdNode {
  type: string;
  value?: string;
  children?: MdNode[];
  data?: { hName?: string; hProperties?: Record<string, string> };
}

/** `@name` as the server finds it (src/comments/service.ts), trailing dots tried off too. */
const MENTION = /(?<![\p{L}\p{N}_.@+-])@([\p{L}\p{N}_.@+-]{1,150})/gu;
/** Where an @name is no mention: code shows text as typed, and a link's text is the link's. */
const LEFT_ALONE = new Set(['code', 'inlineCode', 'link', 'linkReference']);

/** A text node split around the mentions of `names` (lower case) it holds, each a span of its own. */
function splitMentions(text: string, names: ReadonlySet<string>): MdNode[] {
  const parts: MdNode[] = [];
  let from = 0;
  for (const match of text.matchAll(MENTION)) {
    const written = match[1] as string;
    const name = [written, written.replace(/[.]+$/, '')].find((each) => names.has(each.toLowerCase()));
    if (name === undefined) continue;
    const start = match.index;
    if (start > from) parts.push({ type: 'text', value: text.slice(from, start) });
    parts.push({
      type: 'text',
      value: `@${name}`,
      data: { hName: 'span', hProperties: { className: 'mention' } },
    });
    from = start + 1 + name.length;
  }
  if (parts.length === 0) return [{ type: 'text', value: text }];
  if (from < text.length) parts.push({ type: 'text', value: text.slice(from) });
  return parts;
}

/** A remark plugin: the comment's mentions (the server's list, not every @word) stand out. */
const mentionsOf = (names: ReadonlySet<string>) => () => (tree: MdNode) => {
  const visit = (node: MdNode) => {
    if (node.children === undefined || LEFT_ALONE.has(node.type)) return;
    node.children = node.children.flatMap((child) => {
      if (child.type === 'text' && child.value !== undefined) return splitMentions(child.value, names);
      visit(child);
      return [child];
    });
  };
  visit(tree);
};

/**
 * Comment text as Markdown. Raw HTML in it stays text (react-markdown renders none without
 * rehype-raw), and its URL filter drops `javascript:` and other unsafe links. `mentioned` are the
 * usernames the comment mentions, highlighted where written.
 */
export function Markdown({ source, mentioned = [] }: { source: string; mentioned?: readonly string[] }) {
  const key = mentioned.map((name) => name.toLowerCase()).join(' ');
  const plugins = useMemo(() => (key === '' ? [] : [mentionsOf(new Set(key.split(' ')))]), [key]);
  return (
    <div className="markdown">
      <ReactMarkdown skipHtml remarkPlugins={plugins} components={{ a: ExternalLink }}>
        {source}
      </ReactMarkdown>
    </div>
  );
}
