import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where `npm run build:web` (and `npm start`, when it is missing or stale) puts the web app. */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url));

// Scripts and styles from this origin only, and the socket back to it: an injected script or a
// framing page gets nowhere.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths the API, the socket and the built files own: a miss there is a real 404, never the app. */
const NOT_APP_PATH = /^\/(?:api|ws|assets)(?:\/|$)|\.[a-z0-9]+$/i;

/**
 * Serves the built web app at `/` on the API's origin. Any other GET that matches no route and is
 * not under /api/ or /ws/ gets index.html, so client-side paths (/login, /accept?token=...) load on
 * a reload too, while unknown API paths keep answering DRF's 404.
 */
export async function registerWebApp(app: FastifyInstance, root = WEB_DIST): Promise<void> {
  // Read once: the asset routes below are fixed at start too, so a rebuild needs a restart either way.
  let index: Buffer;
  try {
    index = readFileSync(join(root, 'index.html'));
  } catch {
    app.log.warn(`no web app in ${root}: run npm run build:web`);
    return;
  }

  await app.register(fastifyStatic, {
    root,
    // One route per built file rather than a catch-all, which would turn unknown API paths into 405s.
    wildcard: false,
    index: false,
    // Caching is decided here, per file, instead of one max-age for all.
    cacheControl: false,
    setHeaders: (response, path) => {
      // Built file names carry a hash of their content, so they never change under their name.
      const immutable = path.startsWith(join(root, 'assets'));
      response.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });

  app.addHook('onRequest', async (request, reply) => {
    if (!request.is404 || (request.method !== 'GET' && request.method !== 'HEAD')) return;
    if (NOT_APP_PATH.test(request.url.split('?')[0] ?? '/')) return;
    return reply
      .code(200)
      .headers({
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'x-content-type-options': 'nosniff',
        // Invitation links carry their token in the URL: it must not leave in a Referer.
        'referrer-policy': 'no-referrer',
      })
      .send(index);
  });
}
