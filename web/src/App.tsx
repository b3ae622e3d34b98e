import { type ReactNode, useCallback, useEffect, useState } from 'react';
import { AcceptPage, AcceptWhileSignedIn, LoginPage, SignUpPage } from './AuthPages.tsx';
import { get, logout, onAccessChange, type Project, refresh, type Task, type User } from './api.ts';
import { Board } from './Board.tsx';
import { Dashboard } from './Dashboard.tsx';
import { ProjectSettings } from './ProjectSettings.tsx';
import { ProjectsPage } from './Projects.tsx';
import { navigate, useLocation } from './router.ts';
import { Settings } from './Settings.tsx';
import { Shell } from './Shell.tsx';
import { Team } from './Team.tsx';
import { useWorkspace, type Workspace } from './useWorkspace.ts';

type Session = { phase: 'starting' } | { phase: 'unreachable' } | { phase: 'out' } | { phase: 'in'; user: User };

const AUTH_PATHS = ['/login', '/signup', '/accept'];

export function App() {
  const [session, setSession] = useState<Session>({ phase: 'starting' });
  const { path, query } = useLocation();

  const enter = useCallback(async () => {
    setSession({ phase: 'in', user: await get<User>('/api/auth/profile/') });
  }, []);

  const resume = useCallback(() => {
    setSession({ phase: 'starting' });
    // The cookie, if any, is the session that survives a reload.
    refresh()
      .then((token) => (token === undefined ? setSession({ phase: 'out' }) : enter()))
      .catch(() => setSession({ phase: 'unreachable' }));
  }, [enter]);

  useEffect(() => {
    const unsubscribe = onAccessChange((token) => {
      if (token === undefined) setSession({ phase: 'out' });
    });
    resume();
    return unsubscribe;
  }, [resume]);

  const signedIn = () => {
    if (AUTH_PATHS.includes(path)) navigate('/', { replace: true });
    enter().catch(() => setSession({ phase: 'unreachable' }));
  };
  // Stable, since the board's live connection is torn down and rebuilt whenever it changes.
  const logOut = useCallback(() => void logout().catch(() => setSession({ phase: 'out' })), []);

  if (session.phase === 'starting') {
    return (
      <main className="splash" aria-busy="true">
        Loading…
      </main>
    );
  }
  if (session.phase === 'unreachable') {
    return (
      <main className="splash">
        <p role="alert">The server cannot be reached.</p>
        <button type="button" className="primary" onClick={resume}>
          Try again
        </button>
      </main>
    );
  }
  if (session.phase === 'out') {
    if (path === '/signup') return <SignUpPage onSignedIn={signedIn} />;
    if (path === '/accept') return <AcceptPage token={query.get('token') ?? ''} onSignedIn={signedIn} />;
    return <LoginPage onSignedIn={signedIn} />;
  }
  if (path === '/accept') return <AcceptWhileSignedIn username={session.user.username} onLogOut={logOut} />;
  if (path === '/login' || path === '/signup') return <Redirect to="/" />;
  return (
    <SignedIn
      key={session.user.id}
      user={session.user}
      onLogOut={logOut}
      onUserChange={(changed) => setSession({ phase: 'in', user: changed })}
    />
  );
}

/** A project by its key among those the user sees, archived ones included (asked for when needed). */
function useProjectByKey(workspace: Workspace, key: string | undefined): Project | 'loading' | 'missing' {
  const { projects, archived, loadArchived } = workspace;
  const upper = key?.toUpperCase();
  const found =
    upper === undefined
      ? undefined
      : (projects?.find((each) => each.key === upper) ?? archived?.find((each) => each.key === upper));
  const lookInArchive = upper !== undefined && projects !== undefined && found === undefined && archived === undefined;
  useEffect(() => {
    if (lookInArchive) loadArchived();
  }, [lookInArchive, loadArchived]);
  if (found !== undefined) return found;
  if (upper === undefined || projects === undefined || archived === undefined) return 'loading';
  return 'missing';
}

/**
 * The signed-in app: `/` is the default project's board, `/p/KEY` another project's, `/p/KEY/42`
 * opens task KEY-42 on it, `/p/KEY/settings` its settings, `/projects` the list with the archived
 * ones. A project the user stops seeing (removed from it, deleted) leaves the lists, and whoever
 * was on its board goes back to the default project (or the list).
 */
function SignedIn({
  user,
  onLogOut,
  onUserChange,
}: {
  user: User;
  onLogOut: () => void;
  onUserChange: (user: User) => void;
}) {
  const workspace = useWorkspace(user);
  const { path } = useLocation();
  const projectPath = /^\/p\/([A-Za-z0-9]{1,10})(?:\/(\d{1,10}|settings))?\/?$/.exec(path);
  const linked = /^\/tasks\/(\d{1,10})\/?$/.exec(path);
  const found = useProjectByKey(workspace, projectPath?.[1]);
  const frame = (children: ReactNode) => (
    <Shell user={user} onLogOut={onLogOut}>
      {children}
    </Shell>
  );

  if (path === '/dashboard') return <Dashboard user={user} workspace={workspace} onLogOut={onLogOut} />;
  if (path === '/team') {
    if (user.role === 'guest') return <Redirect to="/" />;
    return frame(<Team user={user} onUserChange={onUserChange} />);
  }
  if (path === '/settings') return frame(<Settings user={user} workspace={workspace} onUserChange={onUserChange} />);
  if (path === '/projects') return frame(<ProjectsPage user={user} workspace={workspace} />);
  if (linked !== null) return <TaskLink id={Number(linked[1])} workspace={workspace} />;
  if (workspace.error !== undefined) {
    return frame(
      <main id="main" className="page">
        <p className="alert" role="alert">
          Could not load your projects: {workspace.error}
        </p>
      </main>,
    );
  }
  if (projectPath !== null) {
    if (found === 'loading') return frame(<Loading />);
    if (found === 'missing') return <Redirect to="/" />;
    if (projectPath[2] === 'settings') {
      return frame(<ProjectSettings project={found} workspace={workspace} user={user} />);
    }
    const number = projectPath[2] === undefined ? undefined : Number(projectPath[2]);
    return (
      <Board key={found.id} user={user} project={found} workspace={workspace} onLogOut={onLogOut} openNumber={number} />
    );
  }
  if (path !== '/') return <Redirect to="/" />;
  if (workspace.projects === undefined) return frame(<Loading />);
  // The default project; for a guest, who may not be in it, the first of theirs; else the list.
  const home = workspace.projects.find((each) => each.is_default) ?? workspace.projects[0];
  if (home === undefined) return <Redirect to="/projects" />;
  if (!home.is_default) return <Redirect to={`/p/${encodeURIComponent(home.key)}`} />;
  return <Board key={home.id} user={user} project={home} workspace={workspace} onLogOut={onLogOut} />;
}

function Loading() {
  return (
    <main id="main" className="page" aria-busy="true">
      <p className="muted">Loading…</p>
    </main>
  );
}

/** `/tasks/<id>`, the link in emails: the board of the task's project, with the task open. */
function TaskLink({ id, workspace }: { id: number; workspace: Workspace }) {
  const { projects, archived, loadArchived } = workspace;
  const [task, setTask] = useState<Task | null | undefined>();
  useEffect(() => {
    get<Task>(`/api/tasks/${id}/`)
      .then(setTask)
      .catch(() => setTask(null));
  }, [id]);
  useEffect(() => loadArchived(), [loadArchived]);
  useEffect(() => {
    if (task === null) navigate('/', { replace: true });
    if (task === undefined || task === null || projects === undefined || archived === undefined) return;
    const project = [...projects, ...archived].find((each) => each.id === task.project);
    navigate(project === undefined ? '/' : `/p/${encodeURIComponent(project.key)}/${task.number}`, { replace: true });
  }, [task, projects, archived]);
  return null;
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}
