import { type FormEvent, type ReactNode, useEffect, useState } from 'react';
import { type InvitationPreview, login, previewInvitation, type Registration, register } from './api.ts';
import { FormAlert, TextField, useSubmit } from './forms.tsx';
import { navigate } from './router.ts';

/** A sign-in form's submit: once it succeeded, the button stays disabled while the app moves on. */
function useSignIn(onSignedIn: () => void) {
  const { errors, pending, done, run } = useSubmit();
  const signIn = (work: () => Promise<void>) =>
    void run(work).then((succeeded) => {
      if (succeeded) onSignedIn();
    });
  return { errors, pending: pending || done, signIn };
}

function AuthLayout({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="auth">
      <div className="auth-card">
        <p className="brand" aria-hidden="true">
          Tasks
        </p>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}

function Link({ to, children }: { to: string; children: ReactNode }) {
  return (
    <a
      href={to}
      onClick={(event) => {
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

const text = (form: FormData, name: string) => String(form.get(name) ?? '');

export function LoginPage({ onSignedIn }: { onSignedIn: () => void }) {
  const { errors, pending, signIn } = useSignIn(onSignedIn);
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    signIn(() => login(text(form, 'username'), text(form, 'password')));
  };
  return (
    <AuthLayout title="Log in">
      <form onSubmit={submit} noValidate>
        <FormAlert messages={errors.non_field_errors ?? errors.detail} />
        <TextField
          label="Username or email"
          name="username"
          autoComplete="username"
          required
          autoFocus
          errors={errors.username}
        />
        <TextField
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          errors={errors.password}
        />
        <button type="submit" className="primary" disabled={pending}>
          {pending ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <p className="switch">
        New here? <Link to="/signup">Create a company</Link>
      </p>
    </AuthLayout>
  );
}

function RegistrationFields({
  errors,
  withCompany,
  invitedEmail,
}: {
  errors: Record<string, string[]>;
  withCompany: boolean;
  /** The address an invitation was sent to: the only one it can join with. */
  invitedEmail?: string | undefined;
}) {
  return (
    <>
      <FormAlert messages={errors.non_field_errors ?? errors.detail ?? errors.invitation_token} />
      {withCompany ? (
        <TextField label="Company name" name="company_name" required autoFocus errors={errors.company_name} />
      ) : null}
      <div className="row">
        <TextField
          label="First name"
          name="first_name"
          autoComplete="given-name"
          errors={errors.first_name}
          autoFocus={!withCompany}
        />
        <TextField label="Last name" name="last_name" autoComplete="family-name" errors={errors.last_name} />
      </div>
      <TextField label="Username" name="username" autoComplete="username" required errors={errors.username} />
      <TextField
        label="Email"
        name="email"
        type="email"
        autoComplete="email"
        required
        defaultValue={invitedEmail}
        errors={errors.email}
        {...(invitedEmail === undefined ? {} : { hint: 'The address the invitation was sent to.' })}
      />
      <TextField
        label="Password"
        name="password"
        type="password"
        autoComplete="new-password"
        required
        hint="At least 8 characters, not all digits."
        errors={errors.password}
      />
      <TextField
        label="Repeat the password"
        name="password_confirm"
        type="password"
        autoComplete="new-password"
        required
        errors={errors.password_confirm}
      />
    </>
  );
}

function registration(form: FormData): Registration {
  return {
    username: text(form, 'username'),
    email: text(form, 'email'),
    first_name: text(form, 'first_name'),
    last_name: text(form, 'last_name'),
    password: text(form, 'password'),
    password_confirm: text(form, 'password_confirm'),
  };
}

export function SignUpPage({ onSignedIn }: { onSignedIn: () => void }) {
  const { errors, pending, signIn } = useSignIn(onSignedIn);
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    signIn(() => register({ ...registration(form), company_name: text(form, 'company_name') }));
  };
  return (
    <AuthLayout title="Create your company">
      <form onSubmit={submit} noValidate>
        <RegistrationFields errors={errors} withCompany />
        <button type="submit" className="primary" disabled={pending}>
          {pending ? 'Creating…' : 'Create company and account'}
        </button>
      </form>
      <p className="switch">
        Already have an account? <Link to="/login">Log in</Link>
      </p>
    </AuthLayout>
  );
}

/** `unknown`: the server could not say, and the invitation is checked when the form is sent. */
type Invitation =
  | { phase: 'loading' }
  | { phase: 'unusable' }
  | { phase: 'unknown' }
  | { phase: 'found'; preview: InvitationPreview };

export function AcceptPage({ token, onSignedIn }: { token: string; onSignedIn: () => void }) {
  const { errors, pending, signIn } = useSignIn(onSignedIn);
  const [invitation, setInvitation] = useState<Invitation>({ phase: 'loading' });
  useEffect(() => {
    if (token === '') return;
    let cancelled = false;
    previewInvitation(token)
      .then((found) => {
        if (!cancelled) setInvitation(found === undefined ? { phase: 'unusable' } : { phase: 'found', preview: found });
      })
      .catch(() => {
        if (!cancelled) setInvitation({ phase: 'unknown' });
      });
    return () => {
      cancelled = true;
    };
  }, [token]);
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    signIn(() => register({ ...registration(form), invitation_token: token }));
  };
  if (token === '') {
    return (
      <AuthLayout title="Accept an invitation">
        <p>This link has no invitation in it. Open the link from your invitation email again.</p>
      </AuthLayout>
    );
  }
  if (invitation.phase === 'loading') {
    return (
      <AuthLayout title="Join your team">
        <p aria-busy="true">Loading…</p>
      </AuthLayout>
    );
  }
  if (invitation.phase === 'unusable') {
    return (
      <AuthLayout title="Accept an invitation">
        <p>
          This invitation can no longer be used: it has been used already, withdrawn, or it has expired. Ask whoever
          invited you for a new one.
        </p>
        <p className="switch">
          Already have an account? <Link to="/login">Log in</Link>
        </p>
      </AuthLayout>
    );
  }
  const known = invitation.phase === 'found' ? invitation.preview : undefined;
  return (
    <AuthLayout title={known === undefined ? 'Join your team' : `Join ${known.company.name}`}>
      {known === undefined ? (
        <p>You have been invited. Choose a username and a password to join.</p>
      ) : (
        <p>
          <b>{known.company.name}</b> invited {known.email} to join as{' '}
          {known.role === 'admin' ? 'an admin' : 'a member'}. Choose a username and a password to join.
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <RegistrationFields errors={errors} withCompany={false} invitedEmail={known?.email} />
        <button type="submit" className="primary" disabled={pending}>
          {pending ? 'Joining…' : 'Join'}
        </button>
      </form>
      <p className="switch">
        Already have an account? <Link to="/login">Log in</Link>
      </p>
    </AuthLayout>
  );
}

export function AcceptWhileSignedIn({ username, onLogOut }: { username: string; onLogOut: () => void }) {
  return (
    <AuthLayout title="Accept an invitation">
      <p>
        You are logged in as <strong>{username}</strong>. Log out first to join with this invitation as someone new.
      </p>
      <div className="actions">
        <button type="button" onClick={() => navigate('/')}>
          Back to the board
        </button>
        <button type="button" className="primary" onClick={onLogOut}>
          Log out
        </button>
      </div>
    </AuthLayout>
  );
}
