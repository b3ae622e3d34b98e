import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * Every parameterized statement becomes a named prepared statement, named by its text: a
 * connection parses and plans a query once, then only binds and executes it (about 1.4× the
 * transactions a second of unnamed statements). But the texts are not few: each combination of
 * list filters and orderings is one (some 160,000), and a prepared statement costs its backend
 * about 43 KB. So each connection keeps its most recently used STATEMENTS_PER_CONNECTION, more
 * than the code's fixed shapes, and deallocates the rest.
 */
export const STATEMENTS_PER_CONNECTION = 200;

/** The names of recent texts; a text that fell out is hashed again when it comes back. */
const NAMES_KEPT = 2_000;
const names = new Map<string, string>();
function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `q${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    if (names.size >= NAMES_KEPT) names.delete(names.keys().next().value as string);
    names.set(text, name);
  }
  return name;
}

/** node-pg's record of what its connection has prepared (the server has the same). */
type Prepared = { connection: { parsedStatements: Record<string, string> } };

interface Recency {
  /** Prepared names, least recently used first. */
  used: Map<string, true>;
  /** Names pushed out, deallocated before the connection's next transaction. */
  evicted: Set<string>;
}
const recency = new WeakMap<pg.PoolClient, Recency>();

function recencyOf(client: pg.PoolClient): Recency {
  let found = recency.get(client);
  if (found === undefined) {
    found = { used: new Map(), evicted: new Set() };
    recency.set(client, found);
  }
  return found;
}

function touch(client: pg.PoolClient, name: string): void {
  const { used, evicted } = recencyOf(client);
  used.delete(name);
  used.set(name, true);
  evicted.delete(name);
  while (used.size > STATEMENTS_PER_CONNECTION) {
    const oldest = used.keys().next().value as string;
    used.delete(oldest);
    evicted.add(oldest);
  }
}

/**
 * What to send before BEGIN: DEALLOCATE for the statements this connection let go of. Outside a
 * transaction, so an aborted one never leaves node-pg and the server disagreeing on what exists.
 */
export function deallocateEvicted(client: pg.PoolClient): string {
  const found = recency.get(client);
  if (found === undefined || found.evicted.size === 0) return '';
  const parsed = (client as unknown as Prepared).connection.parsedStatements;
  let text = '';
  for (const name of found.evicted) {
    if (parsed[name] !== undefined) {
      text += `deallocate ${name}; `;
      delete parsed[name];
    }
  }
  found.evicted.clear();
  return text;
}

/** The client, with every parameterized query sent as a named prepared statement (see above). */
export function preparedStatements(client: pg.PoolClient): pg.PoolClient {
  const query = (config: string | pg.QueryConfig, values?: unknown[]) => {
    const text = typeof config === 'string' ? config : config.text;
    const params = values ?? (typeof config === 'string' ? undefined : config.values);
    if (params === undefined || params.length === 0) return client.query(config as pg.QueryConfig, values);
    const named = typeof config === 'string' ? { text } : { ...config };
    named.name ??= statementName(text);
    touch(client, named.name);
    return client.query(named, params);
  };
  return new Proxy(client, { get: (target, key) => (key === 'query' ? query : Reflect.get(target, key)) });
}
