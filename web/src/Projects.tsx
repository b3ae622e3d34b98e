import { type FormEvent, useEffect, useId, useState } from 'react';
import { call, type Project, type User } from './api.ts';
import { Field, FormAlert, TextField, useSubmit } from './forms.tsx';
import { Modal } from './Modal.tsx';
import { Link, PageTitle } from './Shell.tsx';
import { boardPath, type Workspace } from './useWorkspace.ts';

const ROLE_NAMES: Record<Project['my_role'], string> = { manager: 'Manager', member: 'Member', viewer: 'Viewer' };

/** Company admins and members start projects; guests do not (a 403). */
export const canCreateProjects = (user: User) => user.role !== 'guest';

function ProjectLink({ project, current }: { project: Project; current: boolean }) {
  return (
    <Link to={boardPath(project)} current={current} className="project-link">
      <span className="project-name">{project.name}</span>
      <span className="project-key">{project.key}</span>
      {project.is_private ? <span className="private-mark">private</span> : null}
    </Link>
  );
}

/** Beside the board: the projects to switch between (the default one first), and where to start one. */
export function ProjectSidebar({ user, workspace, current }: { user: User; workspace: Workspace; current: number }) {
  const [creating, setCreating] = useState(false);
  const headingId = useId();
  return (
    <nav className="project-sidebar" aria-labelledby={headingId}>
      <h2 id={headingId}>Projects</h2>
      <ul>
        {(workspace.projects ?? []).map((project) => (
          <li key={project.id}>
            <ProjectLink project={project} current={project.id === current} />
          </li>
        ))}
      </ul>
      <div className="sidebar-actions">
        {canCreateProjects(user) ? (
          <button type="button" onClick={() => setCreating(true)}>
            New project
          </button>
        ) : null}
        <Link to="/projects">All projects and archived</Link>
      </div>
      {creating ? <NewProjectDialog workspace={workspace} onClose={() => setCreating(false)} /> : null}
    </nav>
  );
}

export function NewProjectDialog({ workspace, onClose }: { workspace: Workspace; onClose: () => void }) {
  const { errors, pending, run } = useSubmit();
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const key = String(form.get('key') ?? '').trim();
    void run(async () => {
      const { data } = await call<Project>('POST', '/api/projects/', {
        body: {
          name: String(form.get('name') ?? '').trim(),
          ...(key === '' ? {} : { key }),
          description: String(form.get('description') ?? ''),
          is_private: form.get('is_private') === 'on',
        },
      });
      onClose();
      workspace.putAndGo(data, boardPath(data));
    });
  };
  return (
    <Modal title="New project" onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <FormAlert messages={errors.non_field_errors ?? errors.detail} />
        <TextField label="Name" name="name" required maxLength={100} errors={errors.name} autoFocus />
        <TextField
          label="Key"
          name="key"
          maxLength={10}
          hint="2–10 letters and digits, the prefix of its task numbers (WEB-42). Left empty, one is made from the name."
          errors={errors.key}
        />
        <Field label="Description" errors={errors.description}>
          {(props) => <textarea {...props} name="description" rows={3} />}
        </Field>
        <div className="check-row">
          <input type="checkbox" className="check-input" id="new-project-private" name="is_private" />
          <label htmlFor="new-project-private">Private: only its members see it</label>
        </div>
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={pending}>
            {pending ? 'Creating…' : 'Create project'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function ProjectTable({ projects, caption }: { projects: Project[]; caption: string }) {
  return (
    <div className="table-scroll">
      <table className="data">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Project</th>
            <th scope="col">Key</th>
            <th scope="col">Visibility</th>
            <th scope="col">Your role</th>
          </tr>
        </thead>
        <tbody>
          {projects.map((project) => (
            <tr key={project.id} data-project={project.key}>
              <th scope="row">
                <Link to={boardPath(project)}>{project.name}</Link>
                {project.description === '' ? null : <span className="username">{project.description}</span>}
              </th>
              <td>{project.key}</td>
              <td>{project.is_private ? 'Private' : project.is_default ? 'Everyone (default)' : 'Everyone'}</td>
              <td>{ROLE_NAMES[project.my_role]}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Every project the user sees, the archived ones in a list of their own, and where to start a new one. */
export function ProjectsPage({ user, workspace }: { user: User; workspace: Workspace }) {
  const [creating, setCreating] = useState(false);
  const activeId = useId();
  const archivedId = useId();
  const { loadArchived } = workspace;
  useEffect(() => loadArchived(), [loadArchived]);
  return (
    <main id="main" tabIndex={-1} className="page projects">
      <div className="page-head">
        <PageTitle>Projects</PageTitle>
        {workspace.projects?.length === 0 ? (
          <p>You are not in any project yet: someone who manages one can add you.</p>
        ) : null}
      </div>
      {workspace.error === undefined ? null : (
        <p className="alert" role="alert">
          Could not load the projects: {workspace.error}
        </p>
      )}
      <section className="panel" aria-labelledby={activeId}>
        <div className="panel-head">
          <h2 id={activeId}>Active</h2>
          {canCreateProjects(user) ? (
            <button type="button" className="primary" onClick={() => setCreating(true)}>
              New project
            </button>
          ) : null}
        </div>
        {workspace.projects === undefined ? (
          <p className="muted">Loading…</p>
        ) : (
          <ProjectTable projects={workspace.projects} caption="Active projects" />
        )}
      </section>
      <section className="panel" aria-labelledby={archivedId}>
        <h2 id={archivedId}>Archived</h2>
        <p className="muted">Read only: their boards show the tasks as they were left.</p>
        {workspace.archived === undefined ? (
          <p className="muted">Loading…</p>
        ) : workspace.archived.length === 0 ? (
          <p className="muted">No archived projects.</p>
        ) : (
          <ProjectTable projects={workspace.archived} caption="Archived projects" />
        )}
      </section>
      {creating ? <NewProjectDialog workspace={workspace} onClose={() => setCreating(false)} /> : null}
    </main>
  );
}
