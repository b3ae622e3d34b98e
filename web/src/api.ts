import type { components, operations } from './api-schema.ts';

/** The API's shapes, generated from its OpenAPI document (`npm run api:types`). */
type Schemas = components['schemas'];
/** The JSON body an operation takes. */
type BodyOf<Id extends keyof operations> = operations[Id] extends {
  requestBody?: { content: { 'application/json': infer Body } };
}
  ? Body
  : never;

export type Task = Schemas['Task'];
export type Status = Task['status'];
export type Priority = Task['priority'];
/** In the board's order; `satisfies` keeps them to the API's values. */
export const STATUSES = ['todo', 'in_progress', 'done'] as const satisfies readonly Status[];
export const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const satisfies readonly Priority[];

export type TaskFields = Pick<
  Task,
  'title' | 'description' | 'status' | 'priority' | 'due_date' | 'assigned_to' | 'state' | 'labels'
>;

export type User = Schemas['User'];
/** Who a task can name: what a project's member list tells a guest, who may not read the company's people. */
export type Person = Pick<User, 'id' | 'username' | 'first_name' | 'last_name'>;

export type Project = Schemas['Project'];
export type ProjectRole = Project['my_role'];
export type ProjectMember = Schemas['ProjectMember'];
export type WorkflowStatus = Schemas['WorkflowStatus'];
export type Label = Schemas['Label'];

/** A DRF page of any list: every list's page has this shape. */
export type Page<T> = Omit<Schemas['TaskPage'], 'results'> & { results: T[] };

/** A DRF error: `{detail}` or `{field: [messages]}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(describeError(status, body));
    this.name = 'ApiError';
  }

  /** Messages by field name; messages about no one field are under non_field_errors. */
  get fields(): Record<string, string[]> {
    if (typeof this.body !== 'object' || this.body === null || 'detail' in this.body) return {};
    return Object.fromEntries(
      Object.entries(this.body).map(([field, messages]) => [
        field,
        Array.isArray(messages) ? messages.map(String) : [String(messages)],
      ]),
    );
  }
}

function describeError(status: number, body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    if ('detail' in body) return String(body.detail);
    const first = Object.values(body)[0];
    if (Array.isArray(first) && first.length > 0) return String(first[0]);
  }
  return `The server answered ${status}.`;
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// The access token lives in this module only: never in storage, gone with the page. The refresh
// token is an httpOnly cookie the server sets because every auth call below says X-Auth-Cookie: 1.
let access: string | undefined;
let refreshTimer: number | undefined;
const listeners = new Set<(token: string | undefined) => void>();

/** Called with each new access token, and with undefined when the session ends. */
export function onAccessChange(listener: (token: string | undefined) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function expiryOf(token: string): number {
  const payload = token.split('.')[1] ?? '';
  const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: number };
  return (claims.exp ?? 0) * 1000;
}

function setAccess(token: string | undefined) {
  access = token;
  window.clearTimeout(refreshTimer);
  if (token !== undefined) {
    // A minute early, so neither requests nor the live socket ever carry an expired token.
    const delay = Math.max(5_000, expiryOf(token) - Date.now() - 60_000);
    refreshTimer = window.setTimeout(() => {
      refresh().catch(() => {
        // the server is unreachable: try again shortly, the token still has a minute
        refreshTimer = window.setTimeout(() => void refresh().catch(() => undefined), 10_000);
      });
    }, delay);
  }
  for (const listener of listeners) listener(token);
}

async function authCall<T>(path: string, body: object): Promise<T> {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-auth-cookie': '1' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, data);
  return data as T;
}

export async function login(username: string, password: string): Promise<void> {
  const pair = await authCall<{ access: string }>('/api/auth/login/', { username, password });
  setAccess(pair.access);
}

export type Registration = BodyOf<'register'>;

export async function register(fields: Registration): Promise<void> {
  const answer = await authCall<{ access: string }>('/api/auth/register/', fields);
  setAccess(answer.access);
}

/**
 * Refresh tokens rotate and a spent one revokes the whole login, so two tabs must never refresh
 * with the same cookie at once: a lock across tabs makes them take turns, each with the latest.
 */
function acrossTabs<T>(work: () => Promise<T>): Promise<T> {
  if (typeof navigator.locks === 'undefined') return work();
  return navigator.locks.request('tasks-refresh', work);
}

let refreshing: Promise<string | undefined> | undefined;

/**
 * The access token, renewed first when it is about to expire: timers do not run while a laptop
 * sleeps, so the scheduled renewal may not have happened.
 */
export async function freshAccess(): Promise<string | undefined> {
  if (access !== undefined && expiryOf(access) > Date.now() + 30_000) return access;
  return refresh();
}

/**
 * The server sets this readable cookie beside the httpOnly refresh cookie, and clears it with it:
 * without it there is no session to resume, and asking would only get a 400.
 */
const hasSessionCookie = () => document.cookie.split('; ').some((cookie) => cookie.startsWith('tasks_session='));

/** A new access token from the cookie; undefined when there is no session (and it is now ended). */
export function refresh(): Promise<string | undefined> {
  refreshing ??= acrossTabs(async () => {
    if (!hasSessionCookie()) {
      setAccess(undefined);
      return undefined;
    }
    try {
      const pair = await authCall<{ access: string }>('/api/auth/token/refresh/', {});
      setAccess(pair.access);
      return pair.access;
    } catch (error) {
      if (error instanceof ApiError && (error.status === 400 || error.status === 401)) {
        setAccess(undefined);
        return undefined;
      }
      throw error;
    }
  }).finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

export async function logout(): Promise<void> {
  try {
    await authCall('/api/auth/logout/', {});
  } finally {
    setAccess(undefined);
  }
}

/** What an invitation link is for, asked before sign-up; undefined when it can no longer be used. */
export async function previewInvitation(token: string): Promise<InvitationPreview | undefined> {
  const response = await fetch(`/api/auth/invitations/preview/?token=${encodeURIComponent(token)}`);
  const data = await readBody(response);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new ApiError(response.status, data);
  return data as InvitationPreview;
}

export interface Answer<T> {
  data: T;
  headers: Headers;
}

/** An authenticated call; an expired access token is renewed once and the call retried. */
export async function call<T>(
  method: string,
  path: string,
  options: { body?: object; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const send = (token: string | undefined) =>
    fetch(path, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  let response = await send(await freshAccess());
  if (response.status === 401) {
    const renewed = await refresh();
    if (renewed !== undefined) response = await send(renewed);
  }
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(response.status, data);
  return { data: data as T, headers: response.headers };
}

export const get = async <T>(path: string) => (await call<T>('GET', path)).data;

/** Requests of one list in flight at once: enough to hide the round trips, not enough to crowd the server. */
const PAGES_AT_ONCE = 4;

/**
 * Every page of a DRF list, up to `limit` items. The first page says how many there are; the rest
 * are asked a few at a time rather than one after another (2,000 tasks: 20 pages).
 */
export async function getAll<T>(path: string, limit = 5_000): Promise<{ items: T[]; count: number; date: string }> {
  const separator = path.includes('?') ? '&' : '?';
  const pageOf = (page: number) => call<Page<T>>('GET', `${path}${separator}page_size=100&page=${page}`);
  const first = await pageOf(1);
  const date = first.headers.get('date') ?? '';
  const pages = [first.data.results];
  const last = Math.ceil(Math.min(first.data.count, limit) / 100);
  let next = 2;
  let end = first.data.next === null;
  const worker = async () => {
    while (!end && next <= last) {
      const page = next++;
      try {
        const answer = (await pageOf(page)).data;
        pages[page - 1] = answer.results;
        if (answer.next === null) end = true;
      } catch (error) {
        // the list shrank meanwhile: what is there is all there is
        if (error instanceof ApiError && error.status === 404) end = true;
        else throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: PAGES_AT_ONCE }, worker));
  const items = pages.flatMap((page) => page ?? []).slice(0, limit);
  return { items, count: first.data.count, date };
}

export type Statistics = Schemas['TaskStatistics'];
export type HistoryEntry = Schemas['TaskHistoryEntry'];
export type Notification = Schemas['Notification'];
export type NotificationPreferences = Schemas['NotificationPreferences'];
export type Invitation = Schemas['Invitation'];
export type CreatedInvitation = Schemas['CreatedInvitation'];
export type InvitationPreview = Schemas['InvitationPreview'];

export const displayName = (user: Pick<Person, 'first_name' | 'last_name' | 'username'>) =>
  `${user.first_name} ${user.last_name}`.trim() || user.username;

export type Comment = Schemas['Comment'];
export type InboxItem = Schemas['InboxItem'];

export type Attachment = Schemas['Attachment'];
