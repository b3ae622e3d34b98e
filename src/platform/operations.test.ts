import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, json, type TestContext } from '../../test/helpers.ts';

describe('operations', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  it('reports liveness and readiness', async () => {
    const health = await ctx.app.inject({ url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(json(health)).toEqual({ status: 'ok' });
    const ready = await ctx.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(json(ready)).toEqual({ status: 'ok', checks: { database: 'ok' } });
  });

  it('serves the OpenAPI document generated from the route schemas', async () => {
    const response = await ctx.app.inject({ url: '/api/schema/' });
    expect(response.statusCode).toBe(200);
    const doc = json<{
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    }>(response);
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/api/auth/register/', '/api/auth/login/', '/api/auth/token/refresh/', '/api/auth/logout/']) {
      expect(doc.paths[path]?.post?.requestBody, path).toBeDefined();
    }
    expect(Object.keys(doc.paths['/api/auth/profile/'] ?? {}).sort()).toEqual(['get', 'patch']);
    expect(doc.paths['/api/auth/invitations/']?.post?.responses).toHaveProperty('403');
    expect(doc.components.schemas).toHaveProperty('User');
    // the document describes what the validator enforces: the same schema object
    const register = JSON.stringify(doc.paths['/api/auth/register/']);
    expect(register).toContain('password_confirm');
    expect(register).toContain('invitation_token');
  });

  it('serves a document that is valid OpenAPI, so client generators accept it', async () => {
    const doc = json<{ openapi: string }>(await ctx.app.inject({ url: '/api/schema/' }));
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    // the schemas' own error messages travel as an extension, not dropped
    expect(JSON.stringify(doc)).toContain('"x-error-message":"Enter a valid username.');
  });

  it('serves the interactive documentation page', async () => {
    const page = await ctx.app.inject({ url: '/api/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('swagger');
  });
});
