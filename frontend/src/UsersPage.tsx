import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { errorMessage, type Client, type NewInvitation, type Role, type User } from "./api";
import { manageableRoles, useAccess } from "./access";
import { when } from "./StepView";

// UsersPage lists the users with their roles and the invitations not yet
// accepted; with users:write it invites, changes roles and removes. Owners
// manage everyone; admins editors and viewers.
export function UsersPage({ client }: { client: Client }) {
  const queries = useQueryClient();
  const { session, can, why } = useAccess();
  const users = useQuery({ queryKey: ["users"], queryFn: () => client.listUsers() });
  const invitations = useQuery({ queryKey: ["invitations"], queryFn: () => client.listInvitations() });
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const writable = can("users:write");
  // The admin token belongs to no user and may do what an owner may.
  const acting: Role = session?.user ? session.role : "owner";
  const grantable = writable ? manageableRoles(acting) : [];
  const refresh = () => queries.invalidateQueries({ queryKey: ["users"] });
  const change = useMutation({
    mutationFn: ({ user, role }: { user: User; role: Role }) => client.updateUser(user.id, { role }),
    onMutate: () => setError(""),
    onSuccess: (u) => {
      setNotice(`${u.email} is now ${u.role}.`);
      return refresh();
    },
    onError: (err) => setError(errorMessage(err)),
  });
  const remove = useMutation({
    mutationFn: (user: User) => client.removeUser(user.id),
    onMutate: () => setError(""),
    onSuccess: (_, u) => {
      setNotice(`${u.email} was removed.`);
      return refresh();
    },
    onError: (err) => setError(errorMessage(err)),
  });
  const revoke = useMutation({
    mutationFn: (id: string) => client.revokeInvitation(id),
    onMutate: () => setError(""),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["invitations"] }),
    onError: (err) => setError(errorMessage(err)),
  });

  /** Why the caller may not change the user, or "" when they may. */
  function cannotChange(u: User): string {
    if (!writable) return why("users:write");
    if (!grantable.includes(u.role)) return `Only an owner changes ${u.role}s.`;
    return "";
  }

  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      {writable && <Invite client={client} roles={grantable} />}
      {error && <p role="alert">{error}</p>}
      <p aria-live="polite" className="help">
        {notice}
      </p>
      {users.isPending && <p aria-busy="true">Loading users…</p>}
      {users.isError && <p role="alert">{errorMessage(users.error)}</p>}
      {users.data && (
        <table aria-label="Users">
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {users.data.map((u) => {
              const denied = cannotChange(u);
              const self = session?.user?.id === u.id;
              // The user's own role is always shown, even when it may not be given.
              const options = grantable.includes(u.role) ? grantable : [u.role, ...grantable];
              return (
                <tr key={u.id}>
                  <td>
                    {u.email} {self && <small>(you)</small>}
                  </td>
                  <td>{u.name}</td>
                  <td>
                    <select
                      aria-label={`Role of ${u.email}`}
                      value={u.role}
                      disabled={denied !== "" || change.isPending}
                      title={denied || undefined}
                      onChange={(e) => change.mutate({ user: u, role: e.target.value as Role })}
                    >
                      {options.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>{when(u.created_at)}</td>
                  <td>
                    <button
                      type="button"
                      aria-label={`Remove ${u.email}`}
                      disabled={denied !== "" || self}
                      title={self ? "You cannot remove yourself." : denied || undefined}
                      onClick={() => {
                        if (window.confirm(`Remove ${u.email}? Their sessions and API tokens end at once.`)) remove.mutate(u);
                      }}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <h3>Pending invitations</h3>
      {invitations.isError && <p role="alert">{errorMessage(invitations.error)}</p>}
      {invitations.data && invitations.data.length === 0 && <p>No invitations waiting.</p>}
      {invitations.data && invitations.data.length > 0 && (
        <table aria-label="Pending invitations">
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Expires</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {invitations.data.map((i) => (
              <tr key={i.id}>
                <td>{i.email || <em>(chosen by the owner at setup)</em>}</td>
                <td>{i.role}</td>
                <td>{i.expired ? <span className="problem">expired</span> : when(i.expires_at)}</td>
                <td>
                  <button
                    type="button"
                    aria-label={`Revoke the invitation of ${i.email || "the owner"}`}
                    disabled={!writable}
                    title={why("users:write") || undefined}
                    onClick={() => revoke.mutate(i.id)}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Invite invites someone with one of the roles, and shows their link once. */
function Invite({ client, roles }: { client: Client; roles: Role[] }) {
  const queries = useQueryClient();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>(roles.includes("editor") ? "editor" : roles[0]);
  const [made, setMade] = useState<NewInvitation | null>(null);
  const [error, setError] = useState("");
  const [copied, setCopied] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError("");
    setCopied(false);
    try {
      setMade(await client.createInvitation(email.trim(), role));
      setEmail("");
      void queries.invalidateQueries({ queryKey: ["invitations"] });
    } catch (err) {
      setMade(null);
      setError(errorMessage(err));
    }
  }

  async function copy(url: string) {
    try {
      await navigator.clipboard.writeText(url);
      setCopied(true);
    } catch (err) {
      setError(`Could not copy the link: ${errorMessage(err)}. Select it and copy it instead.`);
    }
  }

  return (
    <div className="invite">
      <form aria-label="Invite" onSubmit={submit}>
        <label htmlFor="invite-email">Email</label>{" "}
        <input id="invite-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />{" "}
        <label htmlFor="invite-role">Role</label>{" "}
        <select id="invite-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {roles.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>{" "}
        <button type="submit">Invite</button>
        {error && <p role="alert">{error}</p>}
      </form>
      {made && (
        <div role="status" aria-label="New invitation" className="shown-once">
          <p>
            Send this link to {made.email}. It is shown only this once, works once, and is valid for 7 days (until{" "}
            {new Date(made.expires_at).toLocaleString()}).
          </p>
          <input aria-label="Invitation link" className="mono" readOnly value={made.url} onFocus={(e) => e.target.select()} size={60} />{" "}
          <button type="button" onClick={() => void copy(made.url)}>
            {copied ? "Copied" : "Copy link"}
          </button>
        </div>
      )}
    </div>
  );
}
