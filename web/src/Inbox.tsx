import { type MouseEvent, useEffect, useState } from 'react';
import { call, type InboxItem, type Page } from './api.ts';
import { ago, dateTime } from './format.ts';
import { BellIcon } from './icons.tsx';
import { Modal } from './Modal.tsx';
import { taskPath } from './relations.ts';
import { navigate } from './router.ts';
import { useInbox } from './useInbox.ts';

const WHAT: Record<InboxItem['kind'], string> = {
  assigned: 'assigned you',
  mentioned: 'mentioned you in',
  commented: 'commented on',
  status_changed: 'changed the status of',
  unblocked: 'unblocked',
  due_soon: 'Due soon:',
};

type Inbox = ReturnType<typeof useInbox>;

function InboxEntry({
  item,
  onOpen,
  onRead,
}: {
  item: InboxItem;
  onOpen: (item: InboxItem) => void;
  onRead: (item: InboxItem) => void;
}) {
  const open = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    onOpen(item);
  };
  const unread = item.read_at === null;
  return (
    <li className={unread ? 'unread' : 'read'} data-inbox-id={item.id} data-kind={item.kind}>
      <p>
        {unread ? <span className="visually-hidden">Unread: </span> : null}
        {item.kind === 'due_soon' ? null : <b>{item.actor?.username ?? 'Someone'} </b>}
        {WHAT[item.kind]}{' '}
        <a href={taskPath(item.task.ref)} onClick={open}>
          <span className="project-key">{item.task.ref}</span> {item.task.title}
        </a>
      </p>
      <p className="muted">
        <time dateTime={item.created_at} title={dateTime(item.created_at)}>
          {ago(item.created_at)}
        </time>
        {unread ? (
          <>
            {' · '}
            <button
              type="button"
              className="link"
              aria-label={`Mark read: ${item.task.ref} ${item.task.title}`}
              onClick={() => onRead(item)}
            >
              Mark read
            </button>
          </>
        ) : null}
      </p>
    </li>
  );
}

/** The inbox, newest first: everything or only the unread; an item opens its task and is read. */
function InboxDialog({ inbox, onClose }: { inbox: Inbox; onClose: () => void }) {
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [items, setItems] = useState<InboxItem[] | undefined>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>();
  const { latest } = inbox;

  const load = async (path: string, more: boolean) => {
    try {
      const { data } = await call<Page<InboxItem>>('GET', path);
      setItems((current) => (more ? [...(current ?? []), ...data.results] : data.results));
      setNext(data.next);
      setError(undefined);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: load is this render's; the filter says when
  useEffect(() => {
    void load(`/api/inbox/${unreadOnly ? '?unread=true' : ''}`, false);
  }, [unreadOnly]);
  useEffect(() => {
    if (latest !== undefined)
      setItems((current) => current && [latest, ...current.filter((each) => each.id !== latest.id)]);
  }, [latest]);

  const readHere = (read: InboxItem) =>
    setItems((current) => current?.map((each) => (each.id === read.id ? read : each)));
  const markRead = async (item: InboxItem) => {
    try {
      readHere(await inbox.markRead(item));
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  const open = (item: InboxItem) => {
    if (item.read_at === null) void markRead(item);
    onClose();
    navigate(taskPath(item.task.ref));
  };
  const markAll = async () => {
    try {
      await inbox.markAllRead();
      const now = new Date().toISOString();
      setItems((current) => current?.map((each) => ({ ...each, read_at: each.read_at ?? now })));
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  const more = () => {
    if (next === null) return;
    const url = new URL(next, window.location.origin);
    void load(url.pathname + url.search, true);
  };

  return (
    <Modal title="Inbox" onClose={onClose} className="inbox-dialog">
      <div className="toolbar">
        <label>
          <input type="checkbox" checked={unreadOnly} onChange={(event) => setUnreadOnly(event.target.checked)} /> Only
          unread
        </label>
        <span className="spacer" />
        <button type="button" onClick={() => void markAll()} disabled={inbox.count === 0}>
          Mark all read
        </button>
      </div>
      {error === undefined ? null : (
        <p className="alert" role="alert">
          {error}
        </p>
      )}
      {items === undefined ? (
        <p className="muted">Loading…</p>
      ) : items.length === 0 ? (
        <p className="muted">{unreadOnly ? 'Nothing unread.' : 'Nothing here yet.'}</p>
      ) : (
        <ul className="inbox-list" aria-label="Inbox items">
          {items.map((item) => (
            <InboxEntry key={item.id} item={item} onOpen={open} onRead={(each) => void markRead(each)} />
          ))}
        </ul>
      )}
      <div className="actions">
        {next === null ? null : (
          <button type="button" className="link" onClick={more}>
            Show older
          </button>
        )}
        <span className="spacer" />
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Modal>
  );
}

/** The header's bell: the unread count, live; it opens the inbox. */
export function InboxBell() {
  const inbox = useInbox();
  const [open, setOpen] = useState(false);
  const count = inbox.count ?? 0;
  return (
    <>
      <button
        type="button"
        className="bell"
        aria-haspopup="dialog"
        aria-label={count === 0 ? 'Inbox, nothing unread' : `Inbox, ${count} unread`}
        onClick={() => setOpen(true)}
      >
        <BellIcon />
        {count === 0 ? null : (
          <span className="unread-count" aria-hidden="true">
            {count > 99 ? '99+' : count}
          </span>
        )}
      </button>
      {open ? <InboxDialog inbox={inbox} onClose={() => setOpen(false)} /> : null}
    </>
  );
}
