import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  bearer,
  createTestContext,
  json,
  registerCompany,
  type Session,
  type TestContext,
} from '../../test/helpers.ts';

interface Label {
  id: number;
  name: string;
  color: string;
}

describe('labels', () => {
  let ctx: TestContext;
  let owner: Session;
  let guest: Session;
  const call = (session: Session, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    ctx.app.inject({ method, url, headers: bearer(session.access), payload });

  beforeAll(async () => {
    ctx = await createTestContext();
    owner = await registerCompany(ctx.app);
    guest = await addMember(ctx.app, owner, 'guest');
  });
  afterAll(() => ctx.close());

  it('are the company’s, by name, unique in any letter case; guests read but do not write them', async () => {
    const bug = json<Label>(await call(owner, 'POST', '/api/labels/', { name: 'bug' }));
    expect(bug.color).toMatch(/^#[0-9a-f]{6}$/);
    const alpha = await call(owner, 'POST', '/api/labels/', { name: 'Alpha', color: '#123ABC' });
    expect(json(alpha)).toMatchObject({ color: '#123abc' });
    const taken = await call(owner, 'POST', '/api/labels/', { name: 'BUG' });
    expect([taken.statusCode, Object.keys(json(taken))]).toEqual([400, ['name']]);
    expect((await call(owner, 'POST', '/api/labels/', { name: 'c', color: 'red' })).statusCode).toBe(400);
    expect(json<Label[]>(await call(guest, 'GET', '/api/labels/')).map((l) => l.name)).toEqual(['Alpha', 'bug']);
    expect((await call(guest, 'POST', '/api/labels/', { name: 'mine' })).statusCode).toBe(403);
    expect((await call(guest, 'PATCH', `/api/labels/${bug.id}/`, { name: 'x' })).statusCode).toBe(403);
    expect(json(await call(owner, 'PATCH', `/api/labels/${bug.id}/`, { name: 'defect' }))).toMatchObject({
      name: 'defect',
    });
    expect(json(await call(owner, 'PATCH', `/api/labels/${bug.id}/`, {}))).toMatchObject({ name: 'defect' });
    const other = await registerCompany(ctx.app);
    expect((await call(other, 'PATCH', `/api/labels/${bug.id}/`, { name: 'x' })).statusCode).toBe(404);
  });

  it('leaves every task when deleted', async () => {
    const label = json<Label>(await call(owner, 'POST', '/api/labels/', { name: 'temporary' }));
    const task = json<{ id: number; labels: number[] }>(
      await call(owner, 'POST', '/api/tasks/', { title: 'labelled', labels: [label.id] }),
    );
    expect(task.labels).toEqual([label.id]);
    expect((await call(owner, 'DELETE', `/api/labels/${label.id}/`)).statusCode).toBe(204);
    expect(json(await call(owner, 'GET', `/api/tasks/${task.id}/`))).toMatchObject({ labels: [] });
    expect((await call(owner, 'DELETE', `/api/labels/${label.id}/`)).statusCode).toBe(404);
  });
});
