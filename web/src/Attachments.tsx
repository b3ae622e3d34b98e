import { type DragEvent, useEffect, useId, useRef, useState } from 'react';
import { type Attachment, call, displayName, get, type Person, type Project, type Task, type User } from './api.ts';
import { ago, dateTime } from './format.ts';
import { upload } from './upload.ts';

/** "12 KB", "3.4 MB". */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toLocaleString(undefined, { maximumFractionDigits: value < 10 ? 1 : 0 })} ${units[unit]}`;
}

/** What browsers draw in an <img>; SVG is served as bytes (never as an image) so is not one. */
const isImage = (attachment: Attachment) =>
  attachment.content_type.startsWith('image/') && attachment.content_type !== 'image/svg+xml';

interface Upload {
  key: number;
  name: string;
  fraction: number;
  error?: string;
}

/**
 * A task's files: dropped on the panel or picked, each upload with its progress bar; listed with
 * size, uploader and a thumbnail for images; downloaded by their signed link (no header needed);
 * deleted by their uploader, project managers and company admins.
 */
export function Attachments({
  task,
  user,
  project,
  people,
  readOnly,
  onChanged,
}: {
  task: Task;
  user: User;
  project: Project;
  people: Person[];
  /** Viewers and archived projects: files are listed, not added or removed. */
  readOnly: boolean;
  /** A file was added or removed: the task's attachment_count changed. */
  onChanged: () => void;
}) {
  const [attachments, setAttachments] = useState<Attachment[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [over, setOver] = useState(false);
  const nextKey = useRef(0);
  const headingId = useId();
  const picker = useRef<HTMLInputElement>(null);
  const path = `/api/tasks/${task.id}/attachments/`;

  const count = task.attachment_count;
  // biome-ignore lint/correctness/useExhaustiveDependencies: `count` is not read, it is when to ask again (others' uploads and deletions reach the board's task live)
  useEffect(() => {
    let cancelled = false;
    get<Attachment[]>(path)
      .then((list) => {
        if (!cancelled) setAttachments(list);
      })
      .catch((failure: unknown) => {
        if (!cancelled) setError(failure instanceof Error ? failure.message : String(failure));
      });
    return () => {
      cancelled = true;
    };
  }, [path, count]);

  const change = (key: number, patch: Partial<Upload>) =>
    setUploads((current) => current.map((each) => (each.key === key ? { ...each, ...patch } : each)));

  const send = async (file: File) => {
    nextKey.current += 1;
    const key = nextKey.current;
    setUploads((current) => [...current, { key, name: file.name, fraction: 0 }]);
    try {
      const created = await upload<Attachment>(path, file, (fraction) => change(key, { fraction }));
      setAttachments((current) => [created, ...(current ?? []).filter((each) => each.id !== created.id)]);
      setUploads((current) => current.filter((each) => each.key !== key));
      onChanged();
    } catch (failure) {
      change(key, { error: failure instanceof Error ? failure.message : String(failure) });
    }
  };
  const sendAll = (files: FileList | null) => {
    for (const file of files ?? []) void send(file);
  };

  const remove = async (attachment: Attachment) => {
    try {
      await call('DELETE', `/api/attachments/${attachment.id}/`);
      setAttachments((current) => current?.filter((each) => each.id !== attachment.id));
      onChanged();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };

  const nameOf = (id: number) => {
    const person = people.find((each) => each.id === id);
    return person === undefined ? 'a former member' : displayName(person);
  };
  const mayDelete = (attachment: Attachment) =>
    !readOnly && (attachment.uploaded_by === user.id || project.my_role === 'manager');
  const drop = readOnly
    ? {}
    : {
        onDragOver: (event: DragEvent) => {
          if (!event.dataTransfer.types.includes('Files')) return;
          event.preventDefault();
          event.dataTransfer.dropEffect = 'copy';
          setOver(true);
        },
        onDragLeave: () => setOver(false),
        onDrop: (event: DragEvent) => {
          event.preventDefault();
          setOver(false);
          sendAll(event.dataTransfer.files);
        },
      };

  return (
    <section className={`attachments${over ? ' drop' : ''}`} aria-labelledby={headingId} {...drop}>
      <h3 id={headingId}>Attachments{attachments === undefined ? '' : ` (${attachments.length})`}</h3>
      {error === undefined ? null : (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      {attachments === undefined ? (
        error === undefined ? (
          <p className="muted">Loading…</p>
        ) : null
      ) : attachments.length === 0 && uploads.length === 0 ? (
        <p className="muted">No files yet.</p>
      ) : (
        <ul className="attachment-list">
          {attachments.map((attachment) => (
            <li key={attachment.id} data-attachment-id={attachment.id}>
              {isImage(attachment) ? (
                <img className="thumbnail" src={attachment.download_url} alt="" loading="lazy" />
              ) : (
                <span className="file-icon" aria-hidden="true">
                  {attachment.filename.split('.').pop()?.slice(0, 4).toUpperCase() || 'FILE'}
                </span>
              )}
              <div className="attachment-text">
                <a href={attachment.download_url} download={attachment.filename}>
                  {attachment.filename}
                </a>
                <span className="muted">
                  {fileSize(attachment.size)} · {nameOf(attachment.uploaded_by)} ·{' '}
                  <time dateTime={attachment.created_at} title={dateTime(attachment.created_at)}>
                    {ago(attachment.created_at)}
                  </time>
                </span>
              </div>
              {mayDelete(attachment) ? (
                <button
                  type="button"
                  className="link danger"
                  aria-label={`Delete ${attachment.filename}`}
                  onClick={() => void remove(attachment)}
                >
                  Delete
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {uploads.length === 0 ? null : (
        <ul className="uploads" aria-label="Uploads">
          {uploads.map((each) => (
            <li key={each.key}>
              <span>{each.name}</span>
              <progress value={each.fraction} max={1} aria-label={`Uploading ${each.name}`} />
              {each.error === undefined ? null : (
                <>
                  <span className="field-error" role="alert">
                    {each.name}: {each.error}
                  </span>
                  <button
                    type="button"
                    className="link"
                    onClick={() => setUploads((current) => current.filter((upload) => upload.key !== each.key))}
                  >
                    Dismiss
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      {readOnly ? null : (
        <div className="drop-zone">
          <button type="button" onClick={() => picker.current?.click()}>
            Add files…
          </button>
          <input
            ref={picker}
            type="file"
            multiple
            hidden
            aria-label="Files to attach"
            onChange={(event) => {
              sendAll(event.target.files);
              event.target.value = '';
            }}
          />
          <span className="muted">or drop them here</span>
        </div>
      )}
    </section>
  );
}
