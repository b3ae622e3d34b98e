import { useEffect, useId, useState } from 'react';
import { type Comment, call, displayName, getAll, type Person, type Project, type Task, type User } from './api.ts';
import { CommentComposer } from './CommentComposer.tsx';
import { ago, dateTime } from './format.ts';
import type { CommentEvent } from './live.ts';
import { Markdown } from './Markdown.tsx';

export type SubscribeComments = (listener: (event: CommentEvent) => void) => () => void;

/** Oldest first, as the server lists them; one already here is replaced. */
function upsert(comments: Comment[], comment: Comment): Comment[] {
  const rest = comments.filter((each) => each.id !== comment.id);
  return [...rest, comment].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id - b.id);
}

function CommentItem({
  comment,
  mine,
  mayDelete,
  people,
  path,
  onChanged,
  onDeleted,
}: {
  comment: Comment;
  mine: boolean;
  mayDelete: boolean;
  people: Person[];
  path: string;
  onChanged: (comment: Comment) => void;
  onDeleted: (id: number) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const author = displayName(comment.author);
  const remove = async () => {
    try {
      await call('DELETE', `${path}${comment.id}/`);
      onDeleted(comment.id);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
      setConfirming(false);
    }
  };
  return (
    <li className="comment" data-comment-id={comment.id}>
      <p className="entry-head">
        <b>{author}</b>{' '}
        <time dateTime={comment.created_at} title={dateTime(comment.created_at)}>
          {ago(comment.created_at)}
        </time>
        {comment.edited ? <span className="muted"> · edited</span> : null}
      </p>
      {editing ? (
        <CommentComposer
          label="Edit your comment"
          initial={comment.body}
          people={people}
          submitLabel="Save comment"
          onSave={async (body) => {
            onChanged((await call<Comment>('PATCH', `${path}${comment.id}/`, { body: { body } })).data);
            setEditing(false);
          }}
          onCancel={() => setEditing(false)}
        />
      ) : (
        <Markdown
          source={comment.body}
          mentioned={people.filter((person) => comment.mentions.includes(person.id)).map((person) => person.username)}
        />
      )}
      {error === undefined ? null : (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      {editing || !(mine || mayDelete) ? null : confirming ? (
        <div className="actions start">
          <span>Delete this comment?</span>
          <button type="button" className="danger small" onClick={() => void remove()}>
            Delete
          </button>
          <button type="button" className="small" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </div>
      ) : (
        <div className="actions start comment-actions">
          {mine ? (
            <button type="button" className="link" onClick={() => setEditing(true)}>
              Edit
            </button>
          ) : null}
          <button
            type="button"
            className="link danger"
            aria-label={`Delete the comment by ${author}`}
            onClick={() => setConfirming(true)}
          >
            Delete
          </button>
        </div>
      )}
    </li>
  );
}

/**
 * A task's comment thread: its comments oldest first, others' arriving live, and a box to write
 * one. Authors edit and delete their own; project managers and company admins delete any.
 */
export function Comments({
  task,
  user,
  project,
  people,
  subscribe,
  onCommented,
}: {
  task: Task;
  user: User;
  project: Project;
  /** Whom the composer suggests for @-mentions. */
  people: Person[];
  subscribe: SubscribeComments;
  onCommented: () => void;
}) {
  const [comments, setComments] = useState<Comment[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const headingId = useId();
  const path = `/api/tasks/${task.id}/comments/`;

  useEffect(() => {
    let cancelled = false;
    // Events from before the list's answer are folded into it when it comes.
    const early: CommentEvent[] = [];
    const apply = (list: Comment[], event: CommentEvent) =>
      event.type === 'comment_deleted'
        ? list.filter((each) => each.id !== event.comment.id)
        : upsert(list, event.comment);
    const unsubscribe = subscribe((event) => {
      if (event.comment.task !== task.id) return;
      setComments((current) => {
        if (current !== undefined) return apply(current, event);
        early.push(event);
        return current;
      });
    });
    getAll<Comment>(path)
      .then(({ items }) => {
        if (!cancelled) setComments(early.reduce(apply, items));
      })
      .catch((failure: unknown) => {
        if (!cancelled) setError(failure instanceof Error ? failure.message : String(failure));
      });
    return () => {
      cancelled = true;
      unsubscribe();
    };
  }, [path, subscribe, task.id]);

  const mayModerate = project.my_role === 'manager';
  return (
    <section className="comments" aria-labelledby={headingId}>
      <h3 id={headingId}>Comments{comments === undefined ? '' : ` (${comments.length})`}</h3>
      {error !== undefined ? (
        <p className="muted">The comments could not be loaded: {error}</p>
      ) : comments === undefined ? (
        <p className="muted">Loading…</p>
      ) : comments.length === 0 ? (
        <p className="muted">No comments yet.</p>
      ) : (
        <ol className="comment-list" aria-live="polite" aria-relevant="additions">
          {comments.map((comment) => (
            <CommentItem
              key={comment.id}
              comment={comment}
              mine={comment.author.id === user.id}
              mayDelete={mayModerate}
              people={people}
              path={path}
              onChanged={(changed) => setComments((current) => upsert(current ?? [], changed))}
              onDeleted={(id) => setComments((current) => current?.filter((each) => each.id !== id))}
            />
          ))}
        </ol>
      )}
      {project.archived ? null : (
        <CommentComposer
          label="Add a comment"
          people={people}
          submitLabel="Comment"
          onSave={async (body) => {
            const created = (await call<Comment>('POST', path, { body: { body } })).data;
            setComments((current) => upsert(current ?? [], created));
            onCommented();
          }}
        />
      )}
    </section>
  );
}
