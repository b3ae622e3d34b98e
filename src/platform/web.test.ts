import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../../test/scratch.ts';
import { registerErrorHandling } from './errors.ts';
import { registerWebApp } from './web.ts';

/** Serving a built web app (a stand-in build here), beside an API whose misses stay DRF 404s. */
describe('the web app’s files', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    const root = scratchDir('tasks-web-');
    mkdirSync(path.join(root, 'assets'));
    writeFileSync(path.join(root, 'index.html'), '<!doctype html><div id="root"></div>');
    writeFileSync(path.join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(path.join(root, 'favicon.svg'), '<svg/>');
    app = Fastify();
    registerErrorHandling(app);
    app.get('/api/known/', async () => ({ ok: true }));
    await registerWebApp(app, root);
  });
  afterAll(() => app.close());

  it('answers the app’s own paths with index.html, uncached, under a strict CSP', async () => {
    for (const url of ['/', '/login', '/accept?token=abc', '/tasks/42']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(200);
      expect(response.body).toContain('<div id="root">');
      expect(response.headers['cache-control']).toBe('no-cache');
      expect(response.headers['content-security-policy']).toContain("default-src 'self'");
      expect(response.headers['referrer-policy']).toBe('no-referrer');
    }
  });

  it('caches hashed assets for good and other files not at all', async () => {
    const asset = await app.inject({ url: '/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const icon = await app.inject({ url: '/favicon.svg' });
    expect(icon.headers['cache-control']).toBe('no-cache');
  });

  it('leaves misses under /api/, /ws/ and /assets/ as 404s, and other methods alone', async () => {
    for (const url of ['/api/unknown/', '/ws/nothing', '/assets/missing.js', '/missing.png']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(404);
      expect(response.json()).toEqual({ detail: 'Not found.' });
    }
    expect((await app.inject({ url: '/api/known/' })).json()).toEqual({ ok: true });
    expect((await app.inject({ method: 'POST', url: '/login' })).statusCode).toBe(404);
  });
});
