import { type FormEvent, useEffect, useId, useState } from 'react';
import { call, type Label } from './api.ts';
import { errorsOf, FormAlert, TextField, useSubmit } from './forms.tsx';
import { ConfirmDialog } from './Modal.tsx';
import type { Workspace } from './useWorkspace.ts';

const messageOf = (error: unknown) => Object.values(errorsOf(error)).flat().join(' ');

function LabelRow({
  label,
  readOnly,
  onSaved,
  onDelete,
  say,
}: {
  label: Label;
  readOnly: boolean;
  onSaved: (label: Label) => void;
  onDelete: (label: Label) => void;
  say: (message: string) => void;
}) {
  const [name, setName] = useState(label.name);
  const [color, setColor] = useState(label.color);
  useEffect(() => setName(label.name), [label.name]);
  useEffect(() => setColor(label.color), [label.color]);
  const changed = name.trim() !== label.name || color !== label.color;
  const save = (event: FormEvent) => {
    event.preventDefault();
    call<Label>('PATCH', `/api/labels/${label.id}/`, { body: { name: name.trim(), color } })
      .then(({ data }) => {
        onSaved(data);
        say(`Label “${data.name}” saved.`);
      })
      .catch((failure: unknown) => say(`Could not save “${label.name}”: ${messageOf(failure)}`));
  };
  if (readOnly) {
    return (
      <li className="label-row" style={{ borderLeftColor: label.color }}>
        <span className="chip" style={{ borderColor: label.color }}>
          <span className="chip-dot" style={{ background: label.color }} aria-hidden="true" />
          {label.name}
        </span>
      </li>
    );
  }
  return (
    <li className="label-row" style={{ borderLeftColor: label.color }}>
      <form className="status-form" onSubmit={save} noValidate>
        <input
          aria-label={`Name of the label ${label.name}`}
          value={name}
          maxLength={50}
          onChange={(event) => setName(event.target.value)}
        />
        <input
          type="color"
          aria-label={`Colour of the label ${label.name}`}
          value={color}
          onChange={(event) => setColor(event.target.value)}
        />
        <button type="submit" disabled={!changed} aria-label={`Save the label ${label.name}`}>
          Save
        </button>
      </form>
      <button
        type="button"
        className="danger quiet"
        aria-label={`Delete the label ${label.name}`}
        onClick={() => onDelete(label)}
      >
        Delete…
      </button>
    </li>
  );
}

/** The company's labels: everyone but guests adds, renames, recolours and deletes them; guests read them. */
export function LabelsPanel({ workspace }: { workspace: Workspace }) {
  const headingId = useId();
  const readOnly = !workspace.seesCompany;
  const [notice, setNotice] = useState<string | undefined>();
  const [deleting, setDeleting] = useState<Label | undefined>();
  const { errors, pending, run } = useSubmit();

  const add = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    void run(async () => {
      const { data: label } = await call<Label>('POST', '/api/labels/', {
        body: { name: String(data.get('name') ?? '').trim(), color: String(data.get('color') ?? '#2454d6') },
      });
      workspace.putLabel(label);
      form.reset();
      setNotice(`Label “${label.name}” added.`);
    });
  };
  const remove = async (label: Label) => {
    setDeleting(undefined);
    try {
      await call('DELETE', `/api/labels/${label.id}/`);
      workspace.dropLabel(label.id);
      setNotice(`Label “${label.name}” deleted.`);
    } catch (failure) {
      setNotice(`Could not delete “${label.name}”: ${messageOf(failure)}`);
    }
  };

  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>Labels</h2>
      <p className="muted">
        The company’s labels, for tasks of every project.{readOnly ? ' Guests see them but do not change them.' : ''}
      </p>
      <output className="notice" aria-live="polite" hidden={notice === undefined}>
        {notice}
      </output>
      {workspace.labels.length === 0 ? <p className="muted">No labels yet.</p> : null}
      <ul className="label-list">
        {workspace.labels.map((label) => (
          <LabelRow
            key={label.id}
            label={label}
            readOnly={readOnly}
            onSaved={workspace.putLabel}
            onDelete={setDeleting}
            say={setNotice}
          />
        ))}
      </ul>
      {readOnly ? null : (
        <form className="invite-form" onSubmit={add} noValidate>
          <FormAlert messages={errors.non_field_errors ?? errors.detail} />
          <div className="row">
            <TextField label="New label" name="name" maxLength={50} required errors={errors.name} />
            <TextField label="Colour" name="color" type="color" defaultValue="#2454d6" errors={errors.color} />
            <div className="field submit">
              <button type="submit" className="primary" disabled={pending}>
                Add label
              </button>
            </div>
          </div>
        </form>
      )}
      {deleting === undefined ? null : (
        <ConfirmDialog
          title={`Delete the label ${deleting.name}?`}
          message={`“${deleting.name}” is taken off every task that has it.`}
          confirmLabel="Delete"
          onConfirm={() => void remove(deleting)}
          onClose={() => setDeleting(undefined)}
        />
      )}
    </section>
  );
}
