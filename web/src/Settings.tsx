import { type FormEvent, useEffect, useId, useState } from 'react';
import { ApiError, call, get, type NotificationPreferences, type User } from './api.ts';
import { FormAlert, TextField, useSubmit } from './forms.tsx';
import { LabelsPanel } from './LabelsPanel.tsx';
import { PageTitle } from './Shell.tsx';
import type { Workspace } from './useWorkspace.ts';

const PREFERENCES: { key: keyof NotificationPreferences; label: string; hint: string }[] = [
  {
    key: 'email_on_assignment',
    label: 'When a task is assigned to me',
    hint: 'When someone else gives you a task, and a reminder before it is due.',
  },
  {
    key: 'email_on_status_change',
    label: 'When a task of mine changes status',
    hint: 'When someone else moves a task you created or are assigned.',
  },
  {
    key: 'email_on_mention',
    label: 'When someone mentions me',
    hint: 'When someone names you as @username in a comment.',
  },
  {
    key: 'email_on_comment',
    label: 'When a task I watch gets a comment',
    hint: 'Comments by others on the tasks you watch (the inbox lists them either way).',
  },
  {
    key: 'email_on_unblocked',
    label: 'When a task of mine is unblocked',
    hint: 'When the last task one of yours was waiting for is done or deleted.',
  },
  { key: 'daily_digest', label: 'A daily digest', hint: 'Your open and overdue tasks, every day at 08:00 UTC.' },
];

const ROLE_NAMES: Record<User['role'], string> = { admin: 'Admin', member: 'Member', guest: 'Guest' };

function ProfileForm({ user, onUserChange }: { user: User; onUserChange: (user: User) => void }) {
  const { errors, pending, done: saved, setDone: setSaved, run } = useSubmit();
  const headingId = useId();
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    void run(async () => {
      const { data } = await call<User>('PATCH', '/api/auth/profile/', {
        body: { first_name: text('first_name'), last_name: text('last_name'), email: text('email') },
      });
      onUserChange(data);
    });
  };
  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>Profile</h2>
      <form onSubmit={submit} onChange={() => setSaved(false)} noValidate>
        <FormAlert messages={errors.non_field_errors ?? errors.detail} />
        <div className="row">
          <TextField
            label="First name"
            name="first_name"
            autoComplete="given-name"
            maxLength={150}
            defaultValue={user.first_name}
            errors={errors.first_name}
          />
          <TextField
            label="Last name"
            name="last_name"
            autoComplete="family-name"
            maxLength={150}
            defaultValue={user.last_name}
            errors={errors.last_name}
          />
        </div>
        <TextField
          label="Email"
          name="email"
          type="email"
          autoComplete="email"
          required
          defaultValue={user.email}
          errors={errors.email}
        />
        <p className="hint">
          Username <b>{user.username}</b> · {ROLE_NAMES[user.role]} of {user.company.name}
        </p>
        <div className="actions start">
          <button type="submit" className="primary" disabled={pending}>
            {pending ? 'Saving…' : 'Save profile'}
          </button>
          <output aria-live="polite" className="saved">
            {saved ? 'Profile saved.' : ''}
          </output>
        </div>
      </form>
    </section>
  );
}

function PreferencesForm() {
  const [preferences, setPreferences] = useState<NotificationPreferences | undefined>();
  const [loadError, setLoadError] = useState<string | undefined>();
  const { errors, pending, done: saved, setDone: setSaved, run } = useSubmit();
  const headingId = useId();

  useEffect(() => {
    let cancelled = false;
    get<NotificationPreferences>('/api/notifications/preferences/')
      .then((answer) => {
        if (!cancelled) setPreferences(answer);
      })
      .catch((error: unknown) => {
        if (cancelled) return;
        setLoadError(
          error instanceof ApiError && error.status === 404
            ? 'Email notifications are not available on this server.'
            : `Could not load your preferences: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
    return () => {
      cancelled = true;
    };
  }, []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (preferences === undefined) return;
    void run(async () => {
      setPreferences(
        (await call<NotificationPreferences>('PUT', '/api/notifications/preferences/', { body: preferences })).data,
      );
    });
  };

  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>Email notifications</h2>
      {loadError !== undefined ? (
        <p className="alert" role="alert">
          {loadError}
        </p>
      ) : preferences === undefined ? (
        <p className="muted" aria-busy="true">
          Loading…
        </p>
      ) : (
        <form onSubmit={submit} noValidate>
          <FormAlert messages={errors.non_field_errors ?? errors.detail} />
          <fieldset className="checks">
            <legend>Email me</legend>
            {PREFERENCES.map(({ key, label, hint }) => (
              <div className="check-row" key={key}>
                <input
                  type="checkbox"
                  className="check-input"
                  id={`${headingId}-${key}`}
                  aria-describedby={`${headingId}-${key}-hint`}
                  checked={preferences[key]}
                  onChange={(event) => {
                    setSaved(false);
                    setPreferences({ ...preferences, [key]: event.target.checked });
                  }}
                />
                <div>
                  <label htmlFor={`${headingId}-${key}`}>{label}</label>
                  <p className="hint" id={`${headingId}-${key}-hint`}>
                    {hint}
                  </p>
                </div>
              </div>
            ))}
          </fieldset>
          <div className="actions start">
            <button type="submit" className="primary" disabled={pending}>
              {pending ? 'Saving…' : 'Save preferences'}
            </button>
            <output aria-live="polite" className="saved">
              {saved ? 'Preferences saved.' : ''}
            </output>
          </div>
        </form>
      )}
    </section>
  );
}

export function Settings({
  user,
  workspace,
  onUserChange,
}: {
  user: User;
  workspace: Workspace;
  onUserChange: (user: User) => void;
}) {
  return (
    <main id="main" tabIndex={-1} className="page settings">
      <div className="page-head">
        <PageTitle>Settings</PageTitle>
      </div>
      <ProfileForm user={user} onUserChange={onUserChange} />
      <PreferencesForm />
      <LabelsPanel workspace={workspace} />
    </main>
  );
}
