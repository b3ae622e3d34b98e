import { type FormEvent, useCallback, useEffect, useId, useRef, useState } from 'react';
import { type CreatedInvitation, call, displayName, getAll, type Invitation, type User } from './api.ts';
import { dateTime } from './format.ts';
import { errorsOf, Field, FormAlert, TextField, useSubmit } from './forms.tsx';
import { ConfirmDialog } from './Modal.tsx';
import { PageTitle } from './Shell.tsx';

const ROLE_LABELS: Record<User['role'], string> = { admin: 'Admin', member: 'Member', guest: 'Guest' };
const ROLES = ['member', 'guest', 'admin'] as const;

const messageOf = (error: unknown) => Object.values(errorsOf(error)).flat().join(' ');

/** Where an invitation is accepted: the sign-up page that joins the inviting company. */
const inviteLink = (token: string) => `${window.location.origin}/accept?token=${encodeURIComponent(token)}`;

function InviteForm({ onInvited }: { onInvited: (invitation: CreatedInvitation) => void }) {
  const { errors, pending, run } = useSubmit();
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    void run(async () => {
      const { data: invitation } = await call<CreatedInvitation>('POST', '/api/auth/invitations/', {
        body: { email: String(data.get('email') ?? '').trim(), role: String(data.get('role') ?? 'member') },
      });
      form.reset();
      onInvited(invitation);
    });
  };
  return (
    <form className="invite-form" onSubmit={submit} noValidate>
      <FormAlert messages={errors.non_field_errors ?? errors.detail} />
      <div className="row">
        <TextField label="Email address" name="email" type="email" autoComplete="off" required errors={errors.email} />
        <Field label="Role" errors={errors.role}>
          {(props) => (
            <select {...props} name="role" defaultValue="member">
              {ROLES.map((role) => (
                <option key={role} value={role}>
                  {ROLE_LABELS[role]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div className="field submit">
          <button type="submit" className="primary" disabled={pending}>
            {pending ? 'Inviting…' : 'Invite'}
          </button>
        </div>
      </div>
    </form>
  );
}

/** The link of a new invitation: the only time it can be seen, so it is easy to copy. */
function NewInvitation({ invitation, onDismiss }: { invitation: CreatedInvitation; onDismiss: () => void }) {
  const link = inviteLink(invitation.token);
  const [copied, setCopied] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const headingId = useId();
  useEffect(() => input.current?.select(), []);
  const copy = () => {
    input.current?.select();
    navigator.clipboard
      ?.writeText(link)
      .then(() => setCopied(true))
      .catch(() => setCopied(false));
  };
  return (
    <section className="new-invitation" aria-labelledby={headingId}>
      <h3 id={headingId}>Invitation for {invitation.email}</h3>
      <p>
        Send this link to {invitation.email}. It is shown only this once, works once, and expires{' '}
        {dateTime(invitation.expires_at)}.
      </p>
      <div className="copy-row">
        <label className="visually-hidden" htmlFor={`${headingId}-link`}>
          Invitation link
        </label>
        <input
          id={`${headingId}-link`}
          className="link-field"
          ref={input}
          readOnly
          value={link}
          onFocus={(event) => event.target.select()}
        />
        <button type="button" onClick={copy}>
          {copied ? 'Copied' : 'Copy link'}
        </button>
        <button type="button" className="quiet" onClick={onDismiss}>
          Done
        </button>
      </div>
      <output aria-live="polite" className="visually-hidden">
        {copied ? 'The link is copied.' : ''}
      </output>
    </section>
  );
}

export function Team({ user, onUserChange }: { user: User; onUserChange: (user: User) => void }) {
  const isAdmin = user.role === 'admin';
  const [members, setMembers] = useState<User[] | undefined>();
  const [invitations, setInvitations] = useState<Invitation[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [busy, setBusy] = useState<number | undefined>();
  const [removing, setRemoving] = useState<User | undefined>();
  const [revoking, setRevoking] = useState<Invitation | undefined>();
  const [created, setCreated] = useState<CreatedInvitation | undefined>();
  const membersId = useId();
  const invitationsId = useId();
  const inviteId = useId();

  const load = useCallback(async () => {
    try {
      const [people, pending] = await Promise.all([
        getAll<User>('/api/auth/company-users/'),
        isAdmin ? getAll<Invitation>('/api/auth/invitations/') : Promise.resolve({ items: [] as Invitation[] }),
      ]);
      setMembers(people.items);
      setInvitations(pending.items);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }, [isAdmin]);
  useEffect(() => void load(), [load]);

  const changeRole = async (member: User, role: User['role']) => {
    setBusy(member.id);
    setError(undefined);
    try {
      const { data } = await call<User>('PATCH', `/api/auth/company-users/${member.id}/`, { body: { role } });
      setMembers((current) => current?.map((each) => (each.id === data.id ? data : each)));
      // an admin who makes themselves a member sees the page as a member from now on
      if (data.id === user.id) onUserChange(data);
      setNotice(`${displayName(member)} is now ${ROLE_LABELS[data.role].toLowerCase()}.`);
    } catch (failure) {
      setError(`Could not change ${displayName(member)}’s role: ${messageOf(failure)}`);
    } finally {
      setBusy(undefined);
    }
  };

  const remove = async (member: User) => {
    setRemoving(undefined);
    setBusy(member.id);
    setError(undefined);
    try {
      await call('DELETE', `/api/auth/company-users/${member.id}/`);
      setMembers((current) => current?.filter((each) => each.id !== member.id));
      setNotice(`${displayName(member)} was removed from ${user.company.name}.`);
    } catch (failure) {
      setError(`Could not remove ${displayName(member)}: ${messageOf(failure)}`);
    } finally {
      setBusy(undefined);
    }
  };

  const revoke = async (invitation: Invitation) => {
    setRevoking(undefined);
    setError(undefined);
    try {
      await call('DELETE', `/api/auth/invitations/${invitation.id}/`);
      setInvitations((current) => current.filter((each) => each.id !== invitation.id));
      if (created?.id === invitation.id) setCreated(undefined);
      setNotice(`The invitation for ${invitation.email} was revoked.`);
    } catch (failure) {
      setError(`Could not revoke the invitation for ${invitation.email}: ${messageOf(failure)}`);
    }
  };

  return (
    <main id="main" tabIndex={-1} className="page team">
      <div className="page-head">
        <PageTitle>Team</PageTitle>
        <p className="muted">
          {members === undefined
            ? 'Loading…'
            : `${members.length} ${members.length === 1 ? 'person' : 'people'} in ${user.company.name}.`}
          {isAdmin ? '' : ' Only admins can invite people, change roles and remove members.'}
        </p>
      </div>
      {error === undefined ? null : (
        <div className="alert" role="alert">
          {error}
        </div>
      )}
      <output className="notice" aria-live="polite" hidden={notice === undefined}>
        {notice}
      </output>

      <section className="panel" aria-labelledby={membersId}>
        <h2 id={membersId}>Members</h2>
        <div className="table-scroll">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                {isAdmin ? (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {(members ?? []).map((member) => {
                const self = member.id === user.id;
                return (
                  <tr key={member.id} data-user={member.username}>
                    <th scope="row">
                      {displayName(member)}
                      {self ? <span className="you"> (you)</span> : null}
                      <span className="username">{member.username}</span>
                    </th>
                    <td>{member.email}</td>
                    <td>
                      {isAdmin ? (
                        <select
                          aria-label={`Role of ${displayName(member)}`}
                          value={member.role}
                          disabled={busy === member.id}
                          onChange={(event) => void changeRole(member, event.target.value as User['role'])}
                        >
                          {ROLES.map((role) => (
                            <option key={role} value={role}>
                              {ROLE_LABELS[role]}
                            </option>
                          ))}
                        </select>
                      ) : (
                        ROLE_LABELS[member.role]
                      )}
                    </td>
                    {isAdmin ? (
                      <td className="row-actions">
                        {self ? null : (
                          <button
                            type="button"
                            className="danger quiet"
                            aria-label={`Remove ${displayName(member)}`}
                            disabled={busy === member.id}
                            onClick={() => setRemoving(member)}
                          >
                            Remove…
                          </button>
                        )}
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>

      {isAdmin ? (
        <>
          <section className="panel" aria-labelledby={inviteId}>
            <h2 id={inviteId}>Invite someone</h2>
            <p className="muted">
              They get a link to sign up with; it joins them to {user.company.name} with the role you choose.
            </p>
            <InviteForm
              onInvited={(invitation) => {
                setCreated(invitation);
                setInvitations((current) => [
                  ...current.filter((each) => each.id !== invitation.id),
                  {
                    id: invitation.id,
                    email: invitation.email,
                    role: invitation.role,
                    expires_at: invitation.expires_at,
                  },
                ]);
              }}
            />
            {created === undefined ? null : (
              <NewInvitation invitation={created} onDismiss={() => setCreated(undefined)} />
            )}
          </section>

          <section className="panel" aria-labelledby={invitationsId}>
            <h2 id={invitationsId}>Pending invitations</h2>
            {invitations.length === 0 ? (
              <p className="muted">None.</p>
            ) : (
              <div className="table-scroll">
                <table className="data">
                  <thead>
                    <tr>
                      <th scope="col">Email</th>
                      <th scope="col">Role</th>
                      <th scope="col">Expires</th>
                      <th scope="col">
                        <span className="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {invitations.map((invitation) => (
                      <tr key={invitation.id}>
                        <th scope="row">{invitation.email}</th>
                        <td>{ROLE_LABELS[invitation.role]}</td>
                        <td>
                          <time dateTime={invitation.expires_at}>{dateTime(invitation.expires_at)}</time>
                        </td>
                        <td className="row-actions">
                          <button
                            type="button"
                            className="danger quiet"
                            aria-label={`Revoke the invitation for ${invitation.email}`}
                            onClick={() => setRevoking(invitation)}
                          >
                            Revoke…
                          </button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      ) : null}

      {removing === undefined ? null : (
        <ConfirmDialog
          title={`Remove ${displayName(removing)}?`}
          message={`${displayName(removing)} loses access to ${user.company.name} at once, and is signed out everywhere. Their tasks stay.`}
          confirmLabel="Remove"
          onConfirm={() => void remove(removing)}
          onClose={() => setRemoving(undefined)}
        />
      )}
      {revoking === undefined ? null : (
        <ConfirmDialog
          title="Revoke the invitation?"
          message={`The link sent to ${revoking.email} will stop working.`}
          confirmLabel="Revoke"
          onConfirm={() => void revoke(revoking)}
          onClose={() => setRevoking(undefined)}
        />
      )}
    </main>
  );
}
