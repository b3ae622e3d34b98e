import { useState } from 'react';
import { Attachments } from './Attachments.tsx';
import { call, type Project, type Task, type User } from './api.ts';
import { Comments, type SubscribeComments } from './Comments.tsx';
import { useMentionables } from './useMentionables.ts';

/** Whether the user gets `commented` and `status_changed` items about the task. */
export function WatchToggle({
  task,
  disabled,
  onChanged,
}: {
  task: Task;
  disabled: boolean;
  onChanged: () => Promise<void>;
}) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const toggle = async () => {
    setPending(true);
    setError(undefined);
    try {
      await call(task.is_watching ? 'DELETE' : 'POST', `/api/tasks/${task.id}/watch/`);
      await onChanged();
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
        aria-pressed={task.is_watching}
        disabled={disabled || pending}
        onClick={() => void toggle()}
        title="Watchers hear about its comments and status changes in their inbox"
      >
        {task.is_watching ? 'Watching' : 'Watch'}
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
}) {
  const people = useMentionables(project, seesCompany);
  const changed = () => void onTaskChanged().catch(() => undefined);
  return (
    <div className="collaboration">
      <Attachments task={task} user={user} project={project} people={people} readOnly={readOnly} onChanged={changed} />
      <Comments task={task} user={user} project={project} people={people} subscribe={subscribeComments} />
    </div>
  );
}
