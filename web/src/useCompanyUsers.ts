import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { getAll, type Person, type ProjectMember, type Task } from './api.ts';

/**
 * The company's people, or for a guest (who may not read them: a 403) the project's members.
 */
async function peopleOf(projectId: number, seesCompany: boolean): Promise<Person[]> {
  if (seesCompany) return (await getAll<Person>('/api/auth/company-users/')).items;
  return (await getAll<ProjectMember>(`/api/projects/${projectId}/members/`)).items.map((member) => member.user);
}

/**
 * The people to name assignees and choose them. People join after the board loaded:
 * the list is asked again on `reload` (the task dialog opening) and when a task names someone not
 * on it (each unknown id once, so a removed user does not cause a request per render).
 */
export function useCompanyUsers(tasks: Map<number, Task>, projectId: number, seesCompany: boolean) {
  const [users, setUsers] = useState<Person[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const askedAbout = useRef(new Set<number>());

  useEffect(() => {
    let cancelled = false;
    peopleOf(projectId, seesCompany)
      .then((items) => {
        if (!cancelled) setUsers(items);
      })
      .catch((failure: unknown) => {
        if (!cancelled) setError(failure instanceof Error ? failure.message : String(failure));
      });
    return () => {
      cancelled = true;
    };
  }, [projectId, seesCompany]);

  const reload = useCallback(() => {
    peopleOf(projectId, seesCompany)
      .then(setUsers)
      .catch(() => undefined);
  }, [projectId, seesCompany]);

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
