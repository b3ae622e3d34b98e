import { type ReactNode, useCallback, useEffect, useId, useState } from 'react';
import {
  ApiError,
  call,
  displayName,
  type HistoryEntry,
  type Label,
  type Notification,
  type Page,
  type Person,
  type Priority,
  type Project,
  type Status,
  type Task,
  type WorkflowStatus,
} from './api.ts';
import { ago, dateTime } from './format.ts';
import { PRIORITY_LABELS, STATUS_LABELS } from './labels.ts';

/** While an email is still pending, its status is asked again this often. */
const PENDING_POLL_MS = 3_000;

/** A list page by page: the first on load (and again when `version` changes), more on demand. */
function usePaged<T>(path: string, version: string) {
  const [items, setItems] = useState<T[] | undefined>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>();
  const [loadingMore, setLoadingMore] = useState(false);
  const [reloads, setReloads] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: version and reloads are reasons to ask again
  useEffect(() => {
    let cancelled = false;
    call<Page<T>>('GET', path)
      .then(({ data }) => {
        if (cancelled) return;
        setItems(data.results);
        setNext(data.next);
        setError(undefined);
      })
      .catch((failure: unknown) => {
        if (cancelled) return;
        setError(
          failure instanceof ApiError && failure.status === 404
            ? 'Not available.'
            : failure instanceof Error
              ? failure.message
              : String(failure),
        );
      });
    return () => {
      cancelled = true;
    };
  }, [path, version, reloads]);

  const more = useCallback(() => {
    if (next === null) return;
    setLoadingMore(true);
    // `next` is an absolute URL of the same origin: only its path and query are sent.
    const url = new URL(next, window.location.origin);
    call<Page<T>>('GET', url.pathname + url.search)
      .then(({ data }) => {
        setItems((current) => [...(current ?? []), ...data.results]);
        setNext(data.next);
      })
      .catch((failure: unknown) => setError(failure instanceof Error ? failure.message : String(failure)))
      .finally(() => setLoadingMore(false));
  }, [next]);

  const reload = useCallback(() => setReloads((count) => count + 1), []);
  return { items, hasMore: next !== null, more, loadingMore, error, reload };
}

type Names = (id: number | null) => string;

/** What the ids in a history entry name: the board's statuses and projects, the company's labels. */
export interface Vocabulary {
  statuses: WorkflowStatus[];
  labels: Label[];
  projects: Project[];
}

const quoted = (value: unknown) => `“${String(value ?? '')}”`;
const statusLabel = (value: unknown) => STATUS_LABELS[value as Status] ?? String(value);
const priorityLabel = (value: unknown) => PRIORITY_LABELS[value as Priority] ?? String(value);
const when = (value: unknown) => (typeof value === 'string' ? dateTime(value) : 'none');

const named = (items: Array<{ id: number; name: string }>, value: unknown, otherwise: string) =>
  items.find((item) => item.id === value)?.name ?? otherwise;

function describeLabels(before: unknown, after: unknown, labels: Label[]): string {
  const was = new Set(Array.isArray(before) ? (before as number[]) : []);
  const is = new Set(Array.isArray(after) ? (after as number[]) : []);
  const names = (ids: number[]) => ids.map((id) => quoted(named(labels, id, 'a deleted label'))).join(', ');
  const added = [...is].filter((id) => !was.has(id));
  const removed = [...was].filter((id) => !is.has(id));
  return [
    added.length > 0 ? `Labelled ${names(added)}` : '',
    removed.length > 0 ? `${added.length > 0 ? 'unlabelled' : 'Unlabelled'} ${names(removed)}` : '',
  ]
    .filter((part) => part !== '')
    .join(', ');
}

/** One change ([old, new]) as a sentence: what it was and what it became, with people's names and readable values. */
function describeChange(field: string, [before, after]: unknown[], nameOf: Names, words: Vocabulary): ReactNode {
  switch (field) {
    case 'state':
      return (
        <>
          Status from <b>{named(words.statuses, before, 'another project’s status')}</b> to{' '}
          <b>{named(words.statuses, after, 'another project’s status')}</b>
        </>
      );
    case 'project':
      return (
        <>
          Moved from <b>{named(words.projects, before, 'another project')}</b> to{' '}
          <b>{named(words.projects, after, 'another project')}</b>
        </>
      );
    case 'ref':
      return (
        <>
          Now <b>{String(after)}</b> (was {String(before)})
        </>
      );
    case 'labels':
      return describeLabels(before, after, words.labels);
    case 'title':
      return (
        <>
          Renamed from <b>{quoted(before)}</b> to <b>{quoted(after)}</b>
        </>
      );
    case 'description':
      if (!after) return 'Removed the description';
      return before ? 'Edited the description' : 'Added a description';
    case 'status':
      return (
        <>
          Status from <b>{statusLabel(before)}</b> to <b>{statusLabel(after)}</b>
        </>
      );
    case 'priority':
      return (
        <>
          Priority from <b>{priorityLabel(before)}</b> to <b>{priorityLabel(after)}</b>
        </>
      );
    case 'due_date':
      if (after === null) return <>Removed the due date ({when(before)})</>;
      if (before === null)
        return (
          <>
            Due date set to <b>{when(after)}</b>
          </>
        );
      return (
        <>
          Due date from <b>{when(before)}</b> to <b>{when(after)}</b>
        </>
      );
    case 'assigned_to':
      if (after === null)
        return (
          <>
            Unassigned <b>{nameOf(before as number)}</b>
          </>
        );
      if (before === null)
        return (
          <>
            Assigned to <b>{nameOf(after as number)}</b>
          </>
        );
      return (
        <>
          Reassigned from <b>{nameOf(before as number)}</b> to <b>{nameOf(after as number)}</b>
        </>
      );
    default:
      return `${field.replace(/_/g, ' ')}: ${quoted(before)} → ${quoted(after)}`;
  }
}

/** What a new task started with, in one line. */
function describeCreation(changes: HistoryEntry['changes'], nameOf: Names): string {
  const value = (field: string) => changes[field]?.[1] ?? null;
  const parts = [
    `${statusLabel(value('status') ?? 'todo')}, ${priorityLabel(value('priority') ?? 'medium')} priority`,
    value('assigned_to') === null ? 'unassigned' : `assigned to ${nameOf(value('assigned_to') as number)}`,
  ];
  if (value('due_date') !== null) parts.push(`due ${when(value('due_date'))}`);
  return parts.join(', ');
}

const ACTIONS: Record<HistoryEntry['action'], string> = {
  created: 'created the task',
  updated: 'updated the task',
  deleted: 'deleted the task',
};

function Time({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={dateTime(iso)}>
      {ago(iso)}
    </time>
  );
}

/**
 * The fields worth a line of their own: completed_at follows the status, and a state says what the
 * status (its category) says, by name.
 */
function shownChanges(changes: HistoryEntry['changes']) {
  return Object.entries(changes).filter(
    ([field]) => !(field === 'completed_at' && 'status' in changes) && !(field === 'status' && 'state' in changes),
  );
}

function HistoryList({ task, nameOf, words }: { task: Task; nameOf: Names; words: Vocabulary }) {
  const history = usePaged<HistoryEntry>(`/api/tasks/${task.id}/history/`, task.updated_at);
  if (history.error !== undefined) return <p className="muted">The history could not be loaded: {history.error}</p>;
  if (history.items === undefined) return <p className="muted">Loading…</p>;
  if (history.items.length === 0) return <p className="muted">No changes recorded.</p>;
  return (
    <>
      <ol className="history">
        {history.items.map((entry) => {
          const changes = shownChanges(entry.changes);
          return (
            <li key={entry.id}>
              <p className="entry-head">
                <b>{nameOf(entry.actor)}</b> {ACTIONS[entry.action]} · <Time iso={entry.at} />
              </p>
              {entry.action === 'created' ? (
                <p className="entry-detail">{describeCreation(entry.changes, nameOf)}</p>
              ) : entry.action === 'updated' ? (
                <ul className="entry-detail">
                  {changes.map(([field, pair]) => (
                    <li key={field}>
                      {field === 'completed_at'
                        ? pair[1] === null
                          ? 'No longer completed'
                          : `Completed ${when(pair[1])}`
                        : describeChange(field, pair, nameOf, words)}
                    </li>
                  ))}
                </ul>
              ) : null}
            </li>
          );
        })}
      </ol>
      {history.hasMore ? (
        <button type="button" className="link" onClick={history.more} disabled={history.loadingMore}>
          {history.loadingMore ? 'Loading…' : 'Show older changes'}
        </button>
      ) : null}
    </>
  );
}

const NOTIFICATION_STATUS: Record<Notification['status'], string> = {
  pending: 'Pending',
  sent: 'Sent',
  failed: 'Failed',
};

function NotificationList({ task }: { task: Task }) {
  const notifications = usePaged<Notification>(`/api/tasks/${task.id}/notifications/`, task.updated_at);
  const pending = notifications.items?.some((each) => each.status === 'pending') ?? false;
  const { reload } = notifications;
  useEffect(() => {
    if (!pending) return;
    const timer = window.setTimeout(reload, PENDING_POLL_MS);
    return () => window.clearTimeout(timer);
  }, [pending, reload]);

  if (notifications.error !== undefined) {
    return <p className="muted">Emails about this task could not be loaded: {notifications.error}</p>;
  }
  if (notifications.items === undefined) return <p className="muted">Loading…</p>;
  if (notifications.items.length === 0) return <p className="muted">No emails about this task yet.</p>;
  return (
    <>
      <ul className="notifications">
        {notifications.items.map((each) => (
          <li key={each.id}>
            <p className="entry-head">
              <span className={`badge ${each.status}`}>{NOTIFICATION_STATUS[each.status]}</span> to{' '}
              <b>{each.recipient}</b>
            </p>
            <p className="entry-detail">{each.subject}</p>
            <p className="entry-detail muted">
              {each.status === 'sent' && each.sent_at !== null ? (
                <>
                  Sent <Time iso={each.sent_at} />
                </>
              ) : each.status === 'pending' ? (
                <>Due to go {dateTime(each.scheduled_for)}</>
              ) : (
                <>
                  Not sent after {each.attempts} {each.attempts === 1 ? 'attempt' : 'attempts'}
                  {each.error ? `: ${each.error}` : ''}
                </>
              )}
            </p>
          </li>
        ))}
      </ul>
      {notifications.hasMore ? (
        <button type="button" className="link" onClick={notifications.more} disabled={notifications.loadingMore}>
          {notifications.loadingMore ? 'Loading…' : 'Show more'}
        </button>
      ) : null}
    </>
  );
}

/** A task's history (who changed what, from what to what) and the emails sent about it. */
export function TaskActivity({ task, users, words }: { task: Task; users: Person[]; words: Vocabulary }) {
  const historyId = useId();
  const emailsId = useId();
  const nameOf: Names = (id) => {
    if (id === null) return 'nobody';
    const person = users.find((each) => each.id === id);
    return person === undefined ? 'a former member' : displayName(person);
  };
  return (
    <aside className="activity" aria-label="Activity">
      <section aria-labelledby={historyId}>
        <h3 id={historyId}>History</h3>
        <HistoryList task={task} nameOf={nameOf} words={words} />
      </section>
      <section aria-labelledby={emailsId}>
        <h3 id={emailsId}>Email notifications</h3>
        <NotificationList task={task} />
      </section>
    </aside>
  );
}
