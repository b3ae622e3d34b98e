import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

export interface Clients {
  /** The requests taken in and not answered yet (a body still arriving included), for the log. */
  inFlight(): string[];
  /**
   * Closes the connections that have not completed a request's headers SILENT_GRACE_MS from now
   * (raw sockets, a request cut off mid-headers): Node's own idle closing does not count them, so
   * a stop would wait on them. The wait spares a client that connected just before the stop and
   * whose request is on its way: it is answered (with `connection: close`).
   */
  closeSilent(): void;
}

/** Follows the app's connections and requests so a stop can close or name them. Call before ready. */
const SILENT_GRACE_MS = 1_000;

export function trackClients(app: FastifyInstance): Clients {
  const open = new Map<string, string>();
  app.addHook('onRequest', async (request) => {
    open.set(request.id, `${request.method} ${request.routeOptions.url ?? 'unrouted'}`);
  });
  const done = async (request: { id: string }) => {
    open.delete(request.id);
  };
  app.addHook('onResponse', done);
  app.addHook('onRequestAbort', done);

  const silent = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    silent.add(socket);
    socket.once('close', () => silent.delete(socket));
  });
  const spoke = (request: { socket: Socket }) => silent.delete(request.socket);
  app.server.on('request', spoke);
  app.server.on('upgrade', spoke);

  return {
    inFlight: () => [...open.values()],
    closeSilent: () => {
      setTimeout(() => {
        for (const socket of silent) socket.destroy();
      }, SILENT_GRACE_MS);
    },
  };
}
