import { useCallback, useEffect, useState } from 'react';
import { call, get, type InboxItem } from './api.ts';
import { listenLive } from './live.ts';

/**
 * The user's unread inbox count, kept current: asked on load and after every (re)connection of the
 * page's socket (which the header's bell keeps open on every page), and raised by each `inbox_item`
 * event.
 */
export function useInbox() {
  const [count, setCount] = useState<number | undefined>();
  /** The last item that arrived live: the open inbox puts it on top. */
  const [latest, setLatest] = useState<InboxItem | undefined>();

  const load = useCallback(async () => {
    setCount((await get<{ count: number }>('/api/inbox/unread-count/')).count);
  }, []);

  useEffect(() => {
    return listenLive({
      onInboxItem: (item) => {
        setLatest(item);
        if (item.read_at === null) setCount((current) => (current ?? 0) + 1);
      },
      onStatus: () => undefined,
      catchUp: load,
      // the page's own listener (a board's, a dashboard's) signs the user out
      onRemoved: () => undefined,
    });
  }, [load]);

  const markRead = useCallback(async (item: InboxItem) => {
    const read = (await call<InboxItem>('POST', `/api/inbox/${item.id}/read/`)).data;
    if (item.read_at === null) setCount((current) => Math.max(0, (current ?? 1) - 1));
    return read;
  }, []);

  const markAllRead = useCallback(async () => {
    await call('POST', '/api/inbox/read-all/');
    setCount(0);
  }, []);

  return { count, latest, markRead, markAllRead };
}
