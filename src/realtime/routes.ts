import websocket from '@fastify/websocket';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { type AccessClaims, bearerToken, notAuthenticated, type TokenService } from '../platform/auth.ts';
import { HttpError } from '../platform/errors.ts';
import type { Hub, Member } from './hub.ts';
import type { RealtimeService } from './service.ts';

export interface RealtimeRoutesOptions {
  tokens: TokenService;
  hub: Hub;
  realtime: RealtimeService;
  /** How often the server pings; a socket that has not answered the previous ping is dropped. */
  pingIntervalMs: number;
  /** Sockets one user may hold on this process; a newer one closes the oldest with 4429. */
  maxSocketsPerUser: number;
  /** Messages a second one socket may send, in bursts of up to twice that. */
  messageRate: number;
}

/** Close codes: 4401 as in the contract for a bad or expired token; 1001 when the server stops. */
export const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY_VIOLATION = 1008;
const MAX_FRAME_BYTES = 64 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    realtime?: { claims: AccessClaims; companyName: string; sees: Member['sees'] };
  }
}

/** The token from `Authorization: Bearer` or, for browsers that cannot set headers, `?token=`. */
function upgradeToken(request: FastifyRequest): string | undefined {
  const header = bearerToken(request);
  if (header !== undefined) return header;
  const query = request.query as Record<string, unknown>;
  return typeof query.token === 'string' && query.token !== '' ? query.token : undefined;
}

/**
 * A token bucket per socket: `rate` a second, bursts up to twice that. Messages past it are
 * refused with an error frame; a client that keeps sending through a whole burst of refusals is
 * not listening to them, and is closed.
 */
function messageBudget(rate: number) {
  const burst = rate * 2;
  let tokens = burst;
  let last = Date.now();
  let refused = 0;
  return {
    take(): 'ok' | 'refuse' | 'close' {
      const now = Date.now();
      tokens = Math.min(burst, tokens + ((now - last) / 1000) * rate);
      last = now;
      if (tokens >= 1) {
        tokens -= 1;
        refused = 0;
        return 'ok';
      }
      refused += 1;
      return refused > burst ? 'close' : 'refuse';
    },
  };
}

/** What a client did wrong at the protocol level (invalid UTF-8, an oversized frame, a reset). */
const isClientFault = (error: Error & { code?: string }) =>
  error.code?.startsWith('WS_ERR_') === true || error.code === 'ECONNRESET' || error.code === 'EPIPE';

const send = (socket: WebSocket, message: object) => {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
};

export const realtimeRoutes: FastifyPluginAsync<RealtimeRoutesOptions> = async (
  app,
  { tokens, hub, realtime, pingIntervalMs, maxSocketsPerUser, messageRate },
) => {
  await app.register(websocket, {
    options: { maxPayload: MAX_FRAME_BYTES },
    // The client's faults are a warning of one line; ours keep their stack.
    errorHandler(error, socket, request) {
      if (isClientFault(error)) {
        request.log.warn({ code: (error as { code?: string }).code, reason: error.message }, 'websocket client error');
      } else {
        request.log.error({ err: error }, 'websocket handler failed');
      }
      socket.terminate();
    },
    // Clients reconnect elsewhere on 1001 (going away) during a rolling restart.
    preClose(done) {
      hub.forEach((socket) => {
        socket.close(CLOSE_GOING_AWAY, 'Server shutting down');
      });
      done();
    },
  });

  const alive = new WeakSet<WebSocket>();
  const heartbeat = setInterval(() => {
    hub.forEach((socket) => {
      if (!alive.has(socket)) {
        socket.terminate();
        return;
      }
      alive.delete(socket);
      socket.ping();
    });
  }, pingIntervalMs);
  heartbeat.unref();
  app.addHook('onClose', async () => clearInterval(heartbeat));

  app.route({
    method: 'GET',
    url: '/ws/tasks/',
    schema: { hide: true },
    // Runs before the upgrade: answering here refuses it with a plain HTTP status.
    preValidation: async (request) => {
      const token = upgradeToken(request);
      if (token === undefined) throw notAuthenticated();
      const claims = await tokens.verify(token, 'access');
      const { companyName, sees } = await realtime.authorize(claims);
      request.realtime = { claims, companyName, sees };
    },
    // A plain GET (no Upgrade) is answered in the API's error shape rather than an empty 404.
    handler: async (_request, reply) => {
      reply.header('upgrade', 'websocket');
      throw new HttpError(426, { detail: 'This endpoint speaks WebSocket: connect with an Upgrade request.' });
    },
    wsHandler: (socket, request) => {
      const session = request.realtime;
      if (session === undefined) {
        socket.close(CLOSE_UNAUTHORIZED, 'Unauthorized');
        return;
      }
      const { companyId, userId } = session.claims;
      let expiry: NodeJS.Timeout | undefined;
      const expireAt = (when: Date) => {
        clearTimeout(expiry);
        expiry = setTimeout(
          () => {
            send(socket, { type: 'token_expired' });
            socket.close(CLOSE_UNAUTHORIZED, 'Token expired');
          },
          Math.max(0, when.getTime() - Date.now()),
        );
      };
      expireAt(session.claims.expiresAt);

      alive.add(socket);
      socket.on('pong', () => alive.add(socket));
      hub.add(socket, { companyId, userId, sees: session.sees }, maxSocketsPerUser);
      socket.on('close', () => {
        clearTimeout(expiry);
        hub.remove(socket, companyId);
      });

      const budget = messageBudget(messageRate);
      socket.on('message', (data, isBinary) => {
        const allowed = budget.take();
        if (allowed === 'close') {
          socket.close(CLOSE_POLICY_VIOLATION, 'Too many messages');
          return;
        }
        if (allowed === 'refuse') {
          send(socket, { type: 'error', detail: `Too many messages: at most ${messageRate} a second.` });
          return;
        }
        void (async () => {
          let message: unknown;
          try {
            message = JSON.parse(isBinary ? '' : data.toString());
          } catch {
            send(socket, { type: 'error', detail: 'Messages must be JSON objects.' });
            return;
          }
          const type =
            typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
          if (type === 'ping') {
            send(socket, { type: 'pong', message: 'Connection alive' });
          } else if (type === 'authenticate') {
            const token = (message as { token?: unknown }).token;
            try {
              if (typeof token !== 'string') throw notAuthenticated();
              const renewed = await tokens.verify(token, 'access');
              if (renewed.userId !== userId || renewed.companyId !== companyId) {
                throw new HttpError(401, { detail: 'The token belongs to another user.' });
              }
              await realtime.authorize(renewed);
              expireAt(renewed.expiresAt);
              send(socket, { type: 'authenticated', expires_at: renewed.expiresAt.toISOString() });
            } catch (error) {
              const detail = error instanceof HttpError ? String(error.message) : 'Authentication failed.';
              send(socket, { type: 'error', detail });
            }
          } else {
            send(socket, {
              type: 'error',
              detail: `Unknown message type: ${JSON.stringify(type ?? null).slice(0, 50)}.`,
            });
          }
        })();
      });

      send(socket, { type: 'connection_established', message: `Connected to ${session.companyName} task updates` });
    },
  });
};
