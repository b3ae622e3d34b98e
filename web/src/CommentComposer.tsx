import { type FormEvent, useId, useState } from 'react';
import type { Person } from './api.ts';
import { errorsOf, FieldMessages, FormAlert } from './forms.tsx';
import { Markdown } from './Markdown.tsx';
import { MentionTextarea } from './MentionTextarea.tsx';

/**
 * Writing a comment, new or edited: Markdown with a preview, @-suggestions of the people who see
 * the task. `onSave` resolves once the server has it; the text is kept when it fails.
 */
export function CommentComposer({
  label,
  initial = '',
  people,
  submitLabel,
  onSave,
  onCancel,
}: {
  label: string;
  initial?: string;
  people: Person[];
  submitLabel: string;
  onSave: (body: string) => Promise<unknown>;
  onCancel?: () => void;
}) {
  const [body, setBody] = useState(initial);
  const [preview, setPreview] = useState(false);
  const [pending, setPending] = useState(false);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const id = useId();

  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    if (body.trim() === '' || pending) return;
    setPending(true);
    setErrors({});
    try {
      await onSave(body);
      setBody('');
      setPreview(false);
    } catch (error) {
      setErrors(errorsOf(error));
    } finally {
      setPending(false);
    }
  };

  return (
    <form className="comment-composer" onSubmit={(event) => void submit(event)} noValidate>
      <FormAlert messages={errors.non_field_errors ?? errors.detail} />
      <div className="composer-head">
        <label htmlFor={id}>{label}</label>
        <button type="button" className="quiet small" aria-pressed={preview} onClick={() => setPreview(!preview)}>
          Preview
        </button>
      </div>
      {preview ? (
        <section className="comment-preview" aria-label="Preview">
          {body.trim() === '' ? <p className="muted">Nothing to preview.</p> : <Markdown source={body} />}
        </section>
      ) : (
        <MentionTextarea
          id={id}
          value={body}
          onChange={setBody}
          people={people}
          onSubmit={() => void submit()}
          describedBy={`${id}-hint${errors.body === undefined ? '' : ` ${id}-error`}`}
          disabled={pending}
        />
      )}
      <FieldMessages id={`${id}-error`} messages={errors.body} />
      <p className="hint" id={`${id}-hint`}>
        Markdown; type @ to mention someone; Ctrl+Enter sends.
      </p>
      <div className="actions start">
        <button type="submit" className="primary" disabled={pending || body.trim() === ''}>
          {pending ? 'Sending…' : submitLabel}
        </button>
        {onCancel === undefined ? null : (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
