import { useEffect, useState } from 'react';
import { getAll, type Person, type Project, type ProjectMember, type User } from './api.ts';

/**
 * The people who see a project's tasks, to @-mention: its members, and (for whoever may read the
 * company's people; guests may not) the company's admins, and its members too when it is public.
 */
export function useMentionables(project: Project, seesCompany: boolean): Person[] {
  const [people, setPeople] = useState<Person[]>([]);
  const { id, is_private: isPrivate } = project;
  useEffect(() => {
    let cancelled = false;
    const load = async () => {
      const [members, company] = await Promise.all([
        getAll<ProjectMember>(`/api/projects/${id}/members/`),
        seesCompany ? getAll<User>('/api/auth/company-users/') : Promise.resolve({ items: [] as User[] }),
      ]);
      const seeing = company.items.filter((user) => user.role === 'admin' || (!isPrivate && user.role === 'member'));
      const byId = new Map<number, Person>();
      for (const person of [...members.items.map((member) => member.user), ...seeing]) byId.set(person.id, person);
      return [...byId.values()].sort((a, b) => a.username.localeCompare(b.username));
    };
    load()
      .then((found) => {
        if (!cancelled) setPeople(found);
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [id, isPrivate, seesCompany]);
  return people;
}
