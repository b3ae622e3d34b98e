import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { getAll, type Task, type User } from './api.ts';

/**
 * The company's people, to name assignees and choose them. People join after the board loaded:
 * the list is asked again on `reload` (the task dialog opening) and when a task names someone not
 * on it (each unknown id once, so a removed user does not cause a request per render).
 */
export function useCompanyUsers(tasks: Map<number, Task>) {
  const [users, setUsers] = useState<User[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const askedAbout = useRef(new Set<number>());

  useEffect(() => {
    let cancelled = false;
    getAll<User>('/api/auth/company-users/')
      .then(({ items }) => {
        if (!cancelled) setUsers(items);
      })
      .catch((failure: unknown) => {
        if (!cancelled) setError(failure instanceof Error ? failure.message : String(failure));
      });
    return () => {
      cancelled = true;
    };
  }, []);

  const reload = useCallback(() => {
    getAll<User>('/api/auth/company-users/')
      .then(({ items }) => setUsers(items))
      .catch(() => undefined);
  }, []);

  const usersById = useMemo(() => new Map((users ?? []).map((person) => [person.id, person])), [users]);

  useEffect(() => {
    if (users === undefined) return;
    let unknown = false;
    for (const task of tasks.values()) {
      const id = task.assigned_to;
      if (id !== null && !usersById.has(id) && !askedAbout.current.has(id)) {
        askedAbout.current.add(id);
        unknown = true;
      }
    }
    if (unknown) reload();
  }, [users, tasks, usersById, reload]);

  return { users: users ?? [], usersById, error, reload };
}
