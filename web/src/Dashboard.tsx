import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { displayName, get, getAll, PRIORITIES, STATUSES, type Statistics, type User } from './api.ts';
import { BarChart, ColumnChart, Ring, StackedBarChart } from './charts.tsx';
import { percent, utcDay } from './format.ts';
import { LiveBadge } from './LiveBadge.tsx';
import { PRIORITY_LABELS, STATUS_LABELS } from './labels.ts';
import { type LiveStatus, listenLive } from './live.ts';
import { navigate, useLocation } from './router.ts';
import { PageTitle, Shell } from './Shell.tsx';
import type { Workspace } from './useWorkspace.ts';

const STATUS_COLORS = { todo: '#7d8aa3', in_progress: '#2454d6', done: '#1f8a4c' } as const;
const PRIORITY_COLORS = { low: '#9aa3b2', medium: '#2454d6', high: '#d4700c', urgent: '#b42318' } as const;
/** Changes arriving close together are counted once, after the last of them. */
const REFRESH_AFTER_MS = 1_000;

function hoursText(hours: number | null): string {
  if (hours === null) return '—';
  if (hours < 1) return `${Math.max(1, Math.round(hours * 60))} min`;
  if (hours < 48) return `${hours.toLocaleString(undefined, { maximumFractionDigits: 1 })} h`;
  return `${(hours / 24).toLocaleString(undefined, { maximumFractionDigits: 1 })} days`;
}

/**
 * The statistics as charts, of every project the user sees or of one (`?project=<id>`, whose
 * statuses then make the status chart). They follow the board: a change anyone makes is reflected
 * a second later (the same live connection as the board's, asking the statistics again).
 */
export function Dashboard({ user, workspace, onLogOut }: { user: User; workspace: Workspace; onLogOut: () => void }) {
  const { query } = useLocation();
  const projectId = /^\d{1,10}$/.test(query.get('project') ?? '') ? (query.get('project') as string) : '';
  const [stats, setStats] = useState<Statistics | undefined>();
  const [live, setLive] = useState<LiveStatus>('connecting');
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState<string | undefined>();
  const timer = useRef<number | undefined>(undefined);

  const load = useCallback(async () => {
    try {
      setStats(await get<Statistics>(`/api/tasks/statistics/${projectId === '' ? '' : `?project=${projectId}`}`));
      setError(undefined);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  }, [projectId]);

  const seesCompany = user.role !== 'guest';
  const { apply } = workspace;
  useEffect(() => {
    // A guest may not read the company's people (a 403): the statistics' usernames name them.
    if (seesCompany) {
      getAll<User>('/api/auth/company-users/')
        .then(({ items }) => setUsers(items))
        .catch(() => undefined);
    }
    const later = () => {
      window.clearTimeout(timer.current);
      timer.current = window.setTimeout(() => void load(), REFRESH_AFTER_MS);
    };
    const stopListening = listenLive({
      onEvent: later,
      // statuses renamed, added or removed change the status chart; projects, the project choice
      onWorkspaceEvent: (event) => {
        apply(event);
        later();
      },
      onStatus: setLive,
      // every (re)connection: the figures as they are now
      catchUp: load,
      onRemoved: onLogOut,
    });
    return () => {
      window.clearTimeout(timer.current);
      stopListening();
    };
  }, [load, onLogOut, seesCompany, apply]);

  const people = useMemo(() => {
    if (stats === undefined) return [];
    const byId = new Map(users.map((user) => [user.id, user]));
    const rows = stats.by_assignee.map((each) => {
      const user = byId.get(each.user_id);
      return {
        key: String(each.user_id),
        label: user === undefined ? each.username : displayName(user),
        done: each.done,
        total: each.total,
      };
    });
    rows.sort((a, b) => b.total - a.total || a.label.localeCompare(b.label));
    return rows;
  }, [stats, users]);

  return (
    <Shell user={user} onLogOut={onLogOut} status={<LiveBadge status={live} />}>
      <main id="main" tabIndex={-1} className="page dashboard">
        <div className="page-head">
          <PageTitle>Dashboard</PageTitle>
          <p className="muted">Kept up to date as tasks change.</p>
        </div>
        <div className="toolbar dashboard-toolbar">
          <label>
            Project{' '}
            <select
              value={projectId}
              onChange={(event) =>
                navigate(event.target.value === '' ? '/dashboard' : `/dashboard?project=${event.target.value}`)
              }
            >
              <option value="">All projects</option>
              {(workspace.projects ?? []).map((project) => (
                <option key={project.id} value={String(project.id)}>
                  {project.name}
                </option>
              ))}
            </select>
          </label>
        </div>
        {error === undefined ? null : (
          <div className="alert" role="alert">
            Could not load the statistics: {error}
          </div>
        )}
        {stats === undefined ? (
          error === undefined ? (
            <p className="muted" aria-busy="true">
              Loading…
            </p>
          ) : null
        ) : (
          <>
            <section className="tiles" aria-label="Summary">
              <div className="tile">
                <p className="tile-label">Tasks</p>
                <p className="tile-value">{stats.total.toLocaleString()}</p>
                <p className="tile-note">{stats.unassigned.toLocaleString()} unassigned</p>
              </div>
              <div className="tile ring-tile">
                <div>
                  <p className="tile-label">Completion rate</p>
                  <p className="tile-value">{percent(stats.completion_rate)}</p>
                  <p className="tile-note">
                    {stats.by_status.done.toLocaleString()} of {stats.total.toLocaleString()} done
                  </p>
                </div>
                <Ring value={stats.completion_rate} label="Completion rate" color={STATUS_COLORS.done} />
              </div>
              <div className={`tile${stats.overdue > 0 ? ' bad' : ''}`}>
                <p className="tile-label">Overdue</p>
                <p className="tile-value">{stats.overdue.toLocaleString()}</p>
                <p className="tile-note">past due and not done</p>
              </div>
              <div className="tile">
                <p className="tile-label">Average time to done</p>
                <p className="tile-value">{hoursText(stats.avg_completion_hours)}</p>
                <p className="tile-note">from creation to completion</p>
              </div>
            </section>
            <div className="charts">
              <BarChart
                caption="Tasks by status"
                category="Status"
                data={
                  stats.by_state?.map((state) => ({
                    key: String(state.state),
                    label: state.name,
                    value: state.count,
                    color: STATUS_COLORS[state.category],
                  })) ??
                  STATUSES.map((status) => ({
                    key: status,
                    label: STATUS_LABELS[status],
                    value: stats.by_status[status],
                    color: STATUS_COLORS[status],
                  }))
                }
              />
              <BarChart
                caption="Tasks by priority"
                category="Priority"
                data={[...PRIORITIES].reverse().map((priority) => ({
                  key: priority,
                  label: PRIORITY_LABELS[priority],
                  value: stats.by_priority[priority],
                  color: PRIORITY_COLORS[priority],
                }))}
              />
              <ColumnChart
                caption="Tasks created per day, last 30 days"
                data={stats.created_per_day.map((day) => ({ key: day.date, value: day.count }))}
                color={STATUS_COLORS.in_progress}
                dayLabel={(date) => utcDay(date)}
                longDayLabel={(date) => utcDay(date, { weekday: 'short', year: 'numeric' })}
              />
              <StackedBarChart
                caption="Tasks per assignee"
                data={
                  stats.unassigned > 0
                    ? [
                        ...people,
                        {
                          key: 'none',
                          label: 'Unassigned',
                          // every assigned task is someone's in by_assignee: the rest of the done ones are nobody's
                          done: Math.max(0, stats.by_status.done - people.reduce((sum, each) => sum + each.done, 0)),
                          total: stats.unassigned,
                        },
                      ]
                    : people
                }
                doneColor={STATUS_COLORS.done}
                openColor="#8fb0f5"
              />
            </div>
          </>
        )}
      </main>
    </Shell>
  );
}
