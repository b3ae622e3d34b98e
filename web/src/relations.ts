import { useEffect, useRef, useState } from 'react';
import { get, type Task, type WorkflowStatus } from './api.ts';
import { STATUS_LABELS } from './labels.ts';

/** A task's address by its ref: `/p/WEB/42` opens WEB-42 on its project's board. */
export function taskPath(ref: string): string {
  const at = ref.lastIndexOf('-');
  return `/p/${encodeURIComponent(ref.slice(0, at))}/${ref.slice(at + 1)}`;
}

/** What a task's state is called: its status's name when the statuses of its project are at hand, else its category. */
export const stateName = (task: Pick<Task, 'state' | 'status'>, statuses: WorkflowStatus[] | undefined) =>
  statuses?.find((status) => status.id === task.state)?.name ?? STATUS_LABELS[task.status];

/** The blockers of a task that are not done yet, of those `lookup` knows. */
export const openBlockers = (task: Task, lookup: (id: number) => Task | undefined): Task[] =>
  task.blocked_by.flatMap((id) => {
    const blocker = lookup(id);
    return blocker === undefined || blocker.status === 'done' ? [] : [blocker];
  });

/**
 * The words of the server's 409, for a refusal made before asking it. None known: still being
 * read, or tasks the user does not see (which block all the same).
 */
export const blockedByText = (blockers: Task[]) =>
  blockers.length === 0
    ? 'Blocked by tasks not shown here'
    : `Blocked by ${blockers.map((blocker) => `${blocker.ref} ${blocker.title}`).join(', ')}`;

/**
 * Tasks the board does not hold (another project's blockers), each read once by id; one the
 * user cannot see is left out.
 */
export function useTasksById(ids: number[]): Map<number, Task> {
  const [found, setFound] = useState(() => new Map<number, Task>());
  const asked = useRef(new Set<number>());
  const key = [...new Set(ids)].sort((a, b) => a - b).join(',');
  useEffect(() => {
    if (key === '') return;
    for (const id of key.split(',').map(Number)) {
      if (asked.current.has(id)) continue;
      asked.current.add(id);
      get<Task>(`/api/tasks/${id}/`)
        .then((task) => setFound((current) => new Map(current).set(id, task)))
        .catch(() => undefined);
    }
  }, [key]);
  return found;
}
