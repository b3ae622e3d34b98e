import { useState } from 'react';
import { Attachments } from './Attachments.tsx';
import { call, type Project, type Task, type User } from './api.ts';
import { Comments, type SubscribeComments } from './Comments.tsx';
import { useMentionables } from './useMentionables.ts';

/**
 * Whether the user gets `commented` and `status_changed` items about the task. Known from the
 * dialog's own read of the task: the board's copies come from events, which say false to everyone.
 */
export function WatchToggle({
  task,
  watching,
  disabled,
  onChange,
}: {
  task: Task;
  watching: boolean | undefined;
  disabled: boolean;
  onChange: (watching: boolean) => void;
}) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | undefined>();
  if (watching === undefined) return null;
  const toggle = async () => {
    setPending(true);
    setError(undefined);
    try {
      await call(watching ? 'DELETE' : 'POST', `/api/tasks/${task.id}/watch/`);
      onChange(!watching);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setPending(false);
    }
  };
  return (
    <span className="watch">
      <button
        type="button"
        className="small"
        aria-pressed={watching}
        disabled={disabled || pending}
        onClick={() => void toggle()}
        title="Watchers hear about its comments and status changes in their inbox"
      >
        {watching ? 'Watching' : 'Watch'}
      </button>
      {error === undefined ? null : (
        <span className="field-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** Below a task's form: its files and its comment thread. */
export function TaskCollaboration({
  task,
  user,
  project,
  seesCompany,
  readOnly,
  subscribeComments,
  onTaskChanged,
  onCommented,
}: {
  task: Task;
  user: User;
  project: Project;
  seesCompany: boolean;
  /** Viewers and archived projects add no files; archived projects take no comments either. */
  readOnly: boolean;
  subscribeComments: SubscribeComments;
  /** Something that changes the task's counts happened here: read it again. */
  onTaskChanged: () => Promise<void>;
  /** The user commented, which makes them a watcher. */
  onCommented: () => void;
}) {
  const people = useMentionables(project, seesCompany);
  const changed = () => void onTaskChanged().catch(() => undefined);
  return (
    <div className="collaboration">
      <Attachments task={task} user={user} project={project} people={people} readOnly={readOnly} onChanged={changed} />
      <Comments
        task={task}
        user={user}
        project={project}
        people={people}
        subscribe={subscribeComments}
        onCommented={onCommented}
      />
    </div>
  );
}
