import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createTestContext,
  json,
  registerCompany,
  type Session,
  type TestContext,
} from '../../test/helpers.ts';

interface Project {
  id: number;
  key: string;
  name: string;
  is_default: boolean;
  is_private: boolean;
  archived: boolean;
  my_role: string;
}

describe('projects', () => {
  let ctx: TestContext;
  let owner: Session;
  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    ctx.app.inject({ method, url, headers: bearer(owner.access), payload });

  beforeAll(async () => {
    ctx = await createTestContext();
    owner = await registerCompany(ctx.app);
  });
  afterAll(() => ctx.close());

  it('gives a new company its default project, public, which cannot be deleted, archived or made private', async () => {
    const page = json<{ count: number; results: Project[] }>(await call('GET', '/api/projects/'));
    expect(page.count).toBe(1);
    const general = page.results[0] as Project;
    expect(general).toMatchObject({
      key: 'GEN',
      name: 'General',
      is_default: true,
      is_private: false,
      my_role: 'manager',
    });
    expect((await call('DELETE', `/api/projects/${general.id}/`)).statusCode).toBe(409);
    const archived = await call('PATCH', `/api/projects/${general.id}/`, { archived: true });
    expect([archived.statusCode, Object.keys(json(archived))]).toEqual([400, ['archived']]);
    const hidden = await call('PATCH', `/api/projects/${general.id}/`, { is_private: true });
    expect([hidden.statusCode, Object.keys(json(hidden))]).toEqual([400, ['is_private']]);
  });

  it('makes keys from names, upper-case and unique in any letter case, and checks given ones', async () => {
    const made = json<Project>(await call('POST', '/api/projects/', { name: 'Web Site' }));
    expect(made.key).toBe('WS');
    expect(json<Project>(await call('POST', '/api/projects/', { name: 'wide scope' })).key).toBe('WS2');
    const lower = json<Project>(await call('POST', '/api/projects/', { name: 'Mobile', key: 'mob' }));
    expect(lower.key).toBe('MOB');
    const taken = await call('POST', '/api/projects/', { name: 'Other', key: 'Mob' });
    expect([taken.statusCode, Object.keys(json(taken))]).toEqual([400, ['key']]);
    for (const key of ['A', '1AB', 'AB-C', 'ABCDEFGHIJK']) {
      const bad = await call('POST', '/api/projects/', { name: 'Bad', key });
      expect([key, bad.statusCode]).toEqual([key, 400]);
    }
    // Lists go by name, letter case ignored.
    const names = json<{ results: Project[] }>(await call('GET', '/api/projects/')).results.map((p) => p.name);
    expect(names).toEqual([...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
  });

  it('keeps an archived project read-only until restored, and out of the default list', async () => {
    const project = json<Project>(await call('POST', '/api/projects/', { name: 'Old work' }));
    expect((await call('PATCH', `/api/projects/${project.id}/`, { archived: true })).statusCode).toBe(200);
    const listed = json<{ results: Project[] }>(await call('GET', '/api/projects/')).results.map((p) => p.id);
    expect(listed).not.toContain(project.id);
    const archived = json<{ results: Project[] }>(await call('GET', '/api/projects/?archived=true')).results;
    expect(archived.map((p) => p.id)).toEqual([project.id]);
    const renamed = await call('PATCH', `/api/projects/${project.id}/`, { name: 'New name', archived: false });
    expect(renamed.statusCode).toBe(409);
    expect((await call('DELETE', `/api/projects/${project.id}/`)).statusCode).toBe(409);
    const restored = await call('PATCH', `/api/projects/${project.id}/`, { archived: false });
    expect(json(restored)).toMatchObject({ archived: false });
    expect((await call('DELETE', `/api/projects/${project.id}/`)).statusCode).toBe(204);
    expect((await call('GET', `/api/projects/${project.id}/`)).statusCode).toBe(404);
  });
});
