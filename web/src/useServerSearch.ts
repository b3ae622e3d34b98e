import { useEffect, useRef, useState } from 'react';
import { getAll, type Task } from './api.ts';

/** Typing is asked about once it pauses this long. */
const SEARCH_DELAY_MS = 250;

/**
 * The ids of the tasks matching `text`, by the server's full-text search (the same ranking and
 * syntax as the API); undefined when there is no text. Asked again whenever `changes` moves, so new
 * and edited tasks are matched too.
 */
export function useServerSearch(text: string, changes: number): Set<number> | undefined {
  const [hits, setHits] = useState<Set<number> | undefined>();
  const latest = useRef(text);
  latest.current = text;
  // biome-ignore lint/correctness/useExhaustiveDependencies: `changes` is not read, it is when to ask again
  useEffect(() => {
    if (text.trim() === '') {
      setHits(undefined);
      return;
    }
    const timer = window.setTimeout(() => {
      getAll<Task>(`/api/tasks/?search=${encodeURIComponent(text)}`)
        .then(({ items }) => {
          // typing moves on while an answer is on its way: only the current text's counts
          if (latest.current === text) setHits(new Set(items.map((task) => task.id)));
        })
        .catch(() => undefined);
    }, SEARCH_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [text, changes]);
  return text.trim() === '' ? undefined : hits;
}
