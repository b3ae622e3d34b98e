import { useCallback, useEffect, useState } from 'react';
import { AcceptPage, AcceptWhileSignedIn, LoginPage, SignUpPage } from './AuthPages.tsx';
import { get, logout, onAccessChange, refresh, type User } from './api.ts';
import { Board } from './Board.tsx';
import { navigate, useLocation } from './router.ts';

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
  return <Board user={session.user} onLogOut={logOut} />;
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}
