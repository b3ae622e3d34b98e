import { type MouseEvent, type ReactNode, useEffect } from 'react';
import { displayName, type User } from './api.ts';
import { InboxBell } from './Inbox.tsx';
import { navigate, useLocation } from './router.ts';

export const PAGES = [
  { path: '/', label: 'Board' },
  { path: '/dashboard', label: 'Dashboard' },
  { path: '/team', label: 'Team' },
  { path: '/settings', label: 'Settings' },
] as const;

/** The id of each page's heading, where focus goes after moving to another page. */
export const PAGE_TITLE_ID = 'page-title';

/** The page the last Shell showed: each page has a Shell of its own, so this outlives them. */
let shownPath: string | undefined;
/** Navigation moved to a page whose heading has not been focused yet. */
let titleAwaitsFocus = false;

/** A plain link whose clicks move within the app (a modified click still opens a new tab). */
export function Link({
  to,
  children,
  className,
  current,
}: {
  to: string;
  children: ReactNode;
  className?: string;
  current?: boolean;
}) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} className={className} aria-current={current ? 'page' : undefined} onClick={onClick}>
      {children}
    </a>
  );
}

/**
 * The frame of every signed-in page: a skip link, the app's name and company, the main navigation,
 * and who is signed in. After moving to another page, focus goes to its heading, so keyboard and
 * screen reader users start there (and hear where they are) rather than at the top of the page.
 */
export function Shell({
  user,
  onLogOut,
  status,
  title,
  children,
}: {
  user: User;
  onLogOut: () => void;
  /** Shown beside the navigation: the page's live connection, on the board and the dashboard. */
  status?: ReactNode;
  /** The window title, when it is not the page's name in the navigation (a project's board). */
  title?: string;
  children: ReactNode;
}) {
  const { path } = useLocation();
  // Project boards and settings are the Board's part of the app; guests have no Team to see.
  const section = path.startsWith('/p/') || path === '/projects' ? '/' : path;
  const pages = PAGES.filter((each) => each.path !== '/team' || user.role !== 'guest');
  const page = pages.find((each) => each.path === path);
  const windowTitle = title ?? (page === undefined ? undefined : page.label);
  useEffect(() => {
    document.title = windowTitle === undefined ? 'Tasks' : `${windowTitle} · Tasks`;
    // Not on the first page shown (a load or a login): the browser's own start is right there.
    if (shownPath !== undefined && shownPath !== path) titleAwaitsFocus = true;
    shownPath = path;
    // A page still loading has no heading yet: the page's own Shell, once shown, takes the focus.
    const heading = titleAwaitsFocus ? document.getElementById(PAGE_TITLE_ID) : null;
    if (heading !== null) {
      heading.focus();
      titleAwaitsFocus = false;
    }
  }, [path, windowTitle]);

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="title">
          <span className="brand">Tasks</span>
          <span className="company">{user.company.name}</span>
        </div>
        <nav aria-label="Main" className="main-nav">
          <ul>
            {pages.map((each) => (
              <li key={each.path}>
                <Link to={each.path} current={each.path === section}>
                  {each.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span className="spacer" />
        {status}
        <InboxBell />
        <div className="me">
          <span>
            {displayName(user)} <span className="role">{user.role}</span>
          </span>
          <button type="button" onClick={onLogOut}>
            Log out
          </button>
        </div>
      </header>
      {children}
    </div>
  );
}

/** A page's heading: the target of the skip link's page and of focus after navigation. */
export function PageTitle({ children, hidden = false }: { children: ReactNode; hidden?: boolean }) {
  return (
    <h1 id={PAGE_TITLE_ID} tabIndex={-1} className={hidden ? 'visually-hidden' : 'page-title'}>
      {children}
    </h1>
  );
}
