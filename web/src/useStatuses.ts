import { useCallback, useEffect, useState } from 'react';
import { get, type WorkflowStatus } from './api.ts';

/**
 * A project's workflow statuses in position order: the board's columns. `reload` after a status
 * event: moving one renumbers the others, so the whole list is asked again rather than patched.
 */
export function useStatuses(projectId: number) {
  const [statuses, setStatuses] = useState<WorkflowStatus[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [asked, setAsked] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `asked` is not read, it is when to ask again
  useEffect(() => {
    let cancelled = false;
    get<WorkflowStatus[]>(`/api/projects/${projectId}/statuses/`)
      .then((list) => {
        if (!cancelled) setStatuses(list);
      })
      .catch((failure: unknown) => {
        if (!cancelled) setError(failure instanceof Error ? failure.message : String(failure));
      });
    return () => {
      cancelled = true;
    };
  }, [projectId, asked]);

  const reload = useCallback(() => setAsked((count) => count + 1), []);
  return { statuses, setStatuses, error, reload };
}
