import { useCallback, useEffect, useState } from 'react';
import { AcceptPage, AcceptWhileSignedIn, LoginPage, SignUpPage } from './AuthPages.tsx';
import { get, logout, onAccessChange, refresh, type User } from './api.ts';
import { Board } from './Board.tsx';
import { Dashboard } from './Dashboard.tsx';
import { navigate, useLocation } from './router.ts';
import { Settings } from './Settings.tsx';
import { Shell } from './Shell.tsx';
import { Team } from './Team.tsx';

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
  const { user } = session;
  if (path === '/dashboard') return <Dashboard user={user} onLogOut={logOut} />;
  if (path === '/team') {
    return (
      <Shell user={user} onLogOut={logOut}>
        <Team user={user} onUserChange={(changed) => setSession({ phase: 'in', user: changed })} />
      </Shell>
    );
  }
  if (path === '/settings') {
    return (
      <Shell user={user} onLogOut={logOut}>
        <Settings user={user} onUserChange={(changed) => setSession({ phase: 'in', user: changed })} />
      </Shell>
    );
  }
  // /tasks/<id>, the link in emails: the board with that task open.
  const linked = /^\/tasks\/(\d{1,10})\/?$/.exec(path);
  if (path !== '/' && linked === null) return <Redirect to="/" />;
  return <Board user={user} onLogOut={logOut} openTaskId={linked === null ? undefined : Number(linked[1])} />;
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}
