import { type InputHTMLAttributes, type ReactNode, useCallback, useId, useState } from 'react';
import { ApiError } from './api.ts';

/** Field messages from a failed call, with anything not about a field under non_field_errors. */
export function errorsOf(error: unknown): Record<string, string[]> {
  if (error instanceof ApiError) {
    const fields = error.fields;
    return Object.keys(fields).length > 0 ? fields : { non_field_errors: [error.message] };
  }
  return { non_field_errors: ['The server cannot be reached. Check your connection and try again.'] };
}

/**
 * A form's submit: `pending` while its work runs (its button says so and is disabled), the server's
 * messages by field when it fails, `done` once it succeeded, until it is sent again or `setDone(false)`
 * (the form was changed). `run` resolves to whether the work succeeded.
 */
export function useSubmit() {
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [pending, setPending] = useState(false);
  const [done, setDone] = useState(false);
  const run = useCallback(async (work: () => Promise<unknown>): Promise<boolean> => {
    setPending(true);
    setErrors({});
    setDone(false);
    try {
      await work();
      setDone(true);
      return true;
    } catch (error) {
      setErrors(errorsOf(error));
      return false;
    } finally {
      setPending(false);
    }
  }, []);
  return { errors, pending, done, setDone, run };
}

export function FieldMessages({ id, messages }: { id: string; messages: string[] | undefined }) {
  if (messages === undefined || messages.length === 0) return null;
  return (
    <p className="field-error" id={id}>
      {messages.join(' ')}
    </p>
  );
}

/** A labelled control whose errors are announced with it (aria-describedby) rather than only shown. */
export function Field({
  label,
  errors,
  hint,
  children,
}: {
  label: string;
  errors?: string[] | undefined;
  hint?: string;
  children: (props: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }) => ReactNode;
}) {
  const id = useId();
  const described = [hint === undefined ? '' : `${id}-hint`, errors?.length ? `${id}-error` : '']
    .filter(Boolean)
    .join(' ');
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({
        id,
        ...(described === '' ? {} : { 'aria-describedby': described }),
        ...(errors?.length ? { 'aria-invalid': true } : {}),
      })}
      {hint === undefined ? null : (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      <FieldMessages id={`${id}-error`} messages={errors} />
    </div>
  );
}

export function TextField({
  label,
  errors,
  hint,
  ...input
}: { label: string; errors?: string[] | undefined; hint?: string } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <Field label={label} errors={errors} {...(hint === undefined ? {} : { hint })}>
      {(props) => <input {...input} {...props} />}
    </Field>
  );
}

export function FormAlert({ messages }: { messages: string[] | undefined }) {
  if (messages === undefined || messages.length === 0) return null;
  return (
    <div className="alert" role="alert">
      {messages.join(' ')}
    </div>
  );
}
