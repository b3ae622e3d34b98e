import { type InputHTMLAttributes, type ReactNode, useId } from 'react';
import { ApiError } from './api.ts';

/** Field messages from a failed call, with anything not about a field under non_field_errors. */
export function errorsOf(error: unknown): Record<string, string[]> {
  if (error instanceof ApiError) {
    const fields = error.fields;
    return Object.keys(fields).length > 0 ? fields : { non_field_errors: [error.message] };
  }
  return { non_field_errors: ['The server cannot be reached. Check your connection and try again.'] };
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
