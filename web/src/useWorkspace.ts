import { useCallback, useEffect, useMemo, useState } from 'react';
import { flushSync } from 'react-dom';
import { ApiError, get, getAll, type Label, type Project, type User } from './api.ts';
import type { WorkspaceEvent } from './live.ts';
import { navigate } from './router.ts';

/** The default project first (where version 1's tasks are), then the others by name as the API lists them. */
const defaultFirst = (projects: Project[]) => [...projects].sort((a, b) => Number(b.is_default) - Number(a.is_default));

const byName = (labels: Label[]) => [...labels].sort((a, b) => a.name.localeCompare(b.name));

/** Where a project's board lives: `/` for the default project (the version 1 board), else `/p/<key>`. */
export const boardPath = (project: Pick<Project, 'key' | 'is_default'>) =>
  project.is_default ? '/' : `/p/${encodeURIComponent(project.key)}`;

export interface Workspace {
  /** The projects the user sees and that are not archived; undefined until loaded. */
  projects: Project[] | undefined;
  /** The archived ones, asked for only when wanted (the projects page, an archived board's address). */
  archived: Project[] | undefined;
  labels: Label[];
  labelsById: Map<number, Label>;
  error: string | undefined;
  /** Whether this user may read the company's people (guests may not: a 403). */
  seesCompany: boolean;
  loadArchived: () => void;
  /** A project as the API just answered it (created, changed): put where it belongs. */
  put: (project: Project) => void;
  /**
   * `put`, and go to an address of it (a new project's board, a new key's settings), in one render:
   * no render may see the address before the project is listed, since an address naming no listed
   * project sends its reader home.
   */
  putAndGo: (project: Project, path: string) => void;
  drop: (id: number) => void;
  putLabel: (label: Label) => void;
  dropLabel: (id: number) => void;
  /** A live event about projects or labels. */
  apply: (event: WorkspaceEvent) => void;
}

/**
 * What every signed-in page shares: the projects the user sees (the sidebar, the switcher) and the
 * company's labels, kept current by the board's live events.
 */
export function useWorkspace(user: User): Workspace {
  const [projects, setProjects] = useState<Project[] | undefined>();
  const [archived, setArchived] = useState<Project[] | undefined>();
  const [labels, setLabels] = useState<Label[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [wantArchived, setWantArchived] = useState(false);

  useEffect(() => {
    let cancelled = false;
    Promise.all([getAll<Project>('/api/projects/'), get<Label[]>('/api/labels/')])
      .then(([loaded, company]) => {
        if (cancelled) return;
        setProjects(defaultFirst(loaded.items));
        setLabels(byName(company));
      })
      .catch((failure: unknown) => {
        if (!cancelled) setError(failure instanceof Error ? failure.message : String(failure));
      });
    return () => {
      cancelled = true;
    };
  }, []);

  useEffect(() => {
    if (!wantArchived) return;
    let cancelled = false;
    getAll<Project>('/api/projects/?archived=true')
      .then(({ items }) => {
        if (!cancelled) setArchived(items);
      })
      .catch(() => {
        if (!cancelled) setArchived([]);
      });
    return () => {
      cancelled = true;
    };
  }, [wantArchived]);

  const drop = useCallback((id: number) => {
    setProjects((current) => current?.filter((each) => each.id !== id));
    setArchived((current) => current?.filter((each) => each.id !== id));
  }, []);

  const put = useCallback((project: Project) => {
    const without = (list: Project[] | undefined) => list?.filter((each) => each.id !== project.id);
    setProjects((current) => {
      const rest = without(current);
      if (project.archived || rest === undefined) return rest;
      return defaultFirst(
        [...rest, project].sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || a.id - b.id),
      );
    });
    setArchived((current) => {
      const rest = without(current);
      return project.archived && rest !== undefined ? [...rest, project] : rest;
    });
  }, []);

  const putAndGo = useCallback(
    (project: Project, path: string) =>
      flushSync(() => {
        put(project);
        navigate(path);
      }),
    [put],
  );

  const putLabel = useCallback(
    (label: Label) => setLabels((current) => byName([...current.filter((each) => each.id !== label.id), label])),
    [],
  );
  const dropLabel = useCallback((id: number) => setLabels((current) => current.filter((each) => each.id !== id)), []);

  const apply = useCallback(
    (event: WorkspaceEvent) => {
      switch (event.type) {
        case 'project_updated':
          // The event carries no my_role (it is each reader's own): the API says what ours is.
          get<Project>(`/api/projects/${event.project.id}/`)
            .then(put)
            .catch((failure: unknown) => {
              if (failure instanceof ApiError && failure.status === 404) drop(event.project.id);
            });
          break;
        case 'project_deleted':
          drop(event.project.id);
          break;
        case 'label_updated':
          putLabel(event.label);
          break;
        case 'label_deleted':
          dropLabel(event.label.id);
          break;
        default:
          break;
      }
    },
    [put, drop, putLabel, dropLabel],
  );

  const labelsById = useMemo(() => new Map(labels.map((label) => [label.id, label])), [labels]);
  const loadArchived = useCallback(() => setWantArchived(true), []);

  return {
    projects,
    archived,
    labels,
    labelsById,
    error,
    seesCompany: user.role !== 'guest',
    loadArchived,
    put,
    putAndGo,
    drop,
    putLabel,
    dropLabel,
    apply,
  };
}
