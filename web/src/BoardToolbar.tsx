import { displayName, type Label, type Person, PRIORITIES } from './api.ts';
import { PRIORITY_LABELS } from './labels.ts';

export interface Filters {
  search: string;
  assignee: string;
  priority: string;
  /** A label id, or '' for any. */
  label: string;
  mine: boolean;
  /** Only tasks waiting for others (`?blocked=1`). */
  blocked: boolean;
}

export function filtersFrom(query: URLSearchParams): Filters {
  return {
    search: query.get('q') ?? '',
    assignee: query.get('assignee') ?? '',
    priority: query.get('priority') ?? '',
    label: query.get('label') ?? '',
    mine: query.get('mine') === '1',
    blocked: query.get('blocked') === '1',
  };
}

/** Filters live in the URL (after the board's own path), so a filtered board can be bookmarked, shared and reloaded. */
export function urlFor(path: string, filters: Filters): string {
  const query = new URLSearchParams();
  if (filters.search !== '') query.set('q', filters.search);
  if (filters.assignee !== '') query.set('assignee', filters.assignee);
  if (filters.priority !== '') query.set('priority', filters.priority);
  if (filters.label !== '') query.set('label', filters.label);
  if (filters.mine) query.set('mine', '1');
  if (filters.blocked) query.set('blocked', '1');
  const text = query.toString();
  return text === '' ? path : `${path}?${text}`;
}

/**
 * The board's filters and its New task button (none where nothing can be created). `replace`:
 * typing does not add a history entry per key.
 */
export function BoardToolbar({
  filters,
  users,
  labels,
  onFilter,
  onNewTask,
}: {
  filters: Filters;
  users: Person[];
  labels: Label[];
  onFilter: (change: Partial<Filters>, replace?: boolean) => void;
  onNewTask: (() => void) | undefined;
}) {
  return (
    <section className="toolbar" aria-label="Filters">
      <label className="search">
        <span className="visually-hidden">Search tasks</span>
        <input
          type="search"
          placeholder="Search tasks"
          value={filters.search}
          onChange={(event) => onFilter({ search: event.target.value }, true)}
        />
      </label>
      <label>
        Assignee{' '}
        <select value={filters.assignee} onChange={(event) => onFilter({ assignee: event.target.value })}>
          <option value="">Anyone</option>
          <option value="none">Unassigned</option>
          {users.map((person) => (
            <option key={person.id} value={String(person.id)}>
              {displayName(person)}
            </option>
          ))}
        </select>
      </label>
      <label>
        Priority{' '}
        <select value={filters.priority} onChange={(event) => onFilter({ priority: event.target.value })}>
          <option value="">Any</option>
          {PRIORITIES.map((priority) => (
            <option key={priority} value={priority}>
              {PRIORITY_LABELS[priority]}
            </option>
          ))}
        </select>
      </label>
      <label>
        Label{' '}
        <select value={filters.label} onChange={(event) => onFilter({ label: event.target.value })}>
          <option value="">Any</option>
          {labels.map((label) => (
            <option key={label.id} value={String(label.id)}>
              {label.name}
            </option>
          ))}
        </select>
      </label>
      <label className="check">
        <input type="checkbox" checked={filters.mine} onChange={(event) => onFilter({ mine: event.target.checked })} />{' '}
        Only mine
      </label>
      <label className="check">
        <input
          type="checkbox"
          checked={filters.blocked}
          onChange={(event) => onFilter({ blocked: event.target.checked })}
        />{' '}
        Blocked
      </label>
      <span className="spacer" />
      {onNewTask === undefined ? null : (
        <button type="button" className="primary" onClick={onNewTask}>
          New task
        </button>
      )}
    </section>
  );
}
