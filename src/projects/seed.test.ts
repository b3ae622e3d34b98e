import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, json, requestsTo, type Session, type TestContext } from '../../test/helpers.ts';
import { SEED_PASSWORD, type SeededCompany, seedAccounts } from '../accounts/seed.ts';
import { SAMPLE_PROJECTS, seedProjects } from './seed.ts';

describe('seedProjects', () => {
  let ctx: TestContext;
  let companies: SeededCompany[];
  const { call } = requestsTo(() => ctx.app);
  const login = async (username: string): Promise<Session> => {
    const response = await call(null, 'POST', '/api/auth/login/', { username, password: SEED_PASSWORD });
    expect(response.statusCode).toBe(200);
    return json<Session>(response);
  };
  const projectsOf = async (session: Session) =>
    json<{ results: Array<{ id: number; key: string; is_private: boolean; my_role: string }> }>(
      await call(session, 'GET', '/api/projects/'),
    ).results;

  beforeAll(async () => {
    ctx = await createTestContext();
    companies = await seedAccounts(ctx.db, { companies: 2, usersPerCompany: 5, guest: true });
    expect(
      await seedProjects(
        ctx.db,
        companies.map((c) => c.id),
      ),
    ).toBe(2 * SAMPLE_PROJECTS.length);
  });
  afterAll(() => ctx.close());

  it('makes each sample project with its statuses in order, custom ones included', async () => {
    const admin = await login((companies[0] as SeededCompany).admin);
    const projects = await projectsOf(admin);
    expect(projects.map((p) => [p.key, p.is_private, p.my_role])).toEqual([
      ['FIN', true, 'manager'],
      ['GEN', false, 'manager'],
      ['APP', false, 'manager'],
      ['WEB', false, 'manager'],
    ]);
    for (const sample of SAMPLE_PROJECTS) {
      const project = projects.find((p) => p.key === sample.key);
      const statuses = json<Array<{ name: string; category: string; position: number; color: string }>>(
        await call(admin, 'GET', `/api/projects/${project?.id}/statuses/`),
      );
      expect(statuses.map((s) => [s.name, s.category, s.color])).toEqual(sample.statuses.map((s) => [...s]));
      expect(statuses.map((s) => s.position)).toEqual(sample.statuses.map((_s, i) => i));
    }
  });

  it('keeps the private project to its members and gives the guest one project', async () => {
    const slug = (companies[1] as SeededCompany).admin.replace(/_admin$/, '');
    const keys = async (username: string) => (await projectsOf(await login(username))).map((p) => p.key).sort();
    expect(await keys(`${slug}_user1`)).toEqual(['APP', 'FIN', 'GEN', 'WEB']);
    expect(await keys(`${slug}_user2`)).toEqual(['APP', 'GEN', 'WEB']);
    expect(await keys(`${slug}_guest`)).toEqual(['WEB']);
    const viewer = await projectsOf(await login(`${slug}_user4`));
    expect(viewer.find((p) => p.key === 'APP')?.my_role).toBe('viewer');
  });

  it('adds nothing when run again', async () => {
    expect(
      await seedProjects(
        ctx.db,
        companies.map((c) => c.id),
      ),
    ).toBe(0);
    expect(await projectsOf(await login((companies[0] as SeededCompany).admin))).toHaveLength(4);
  });
});
