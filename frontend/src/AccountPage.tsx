import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { errorMessage, type Client } from "./api";
import { useAccess } from "./access";
import { when } from "./StepView";

// AccountPage is the signed-in user's own: who they are, their sessions
// (one ended, or all: log out everywhere) and their password.
export function AccountPage({ client, onLoggedOut }: { client: Client; onLoggedOut: () => void }) {
  const { session } = useAccess();
  const queries = useQueryClient();
  const sessions = useQuery({ queryKey: ["sessions"], queryFn: () => client.listSessions() });
  const [error, setError] = useState("");
  const revoke = useMutation({
    mutationFn: (id: string) => client.revokeSession(id),
    onMutate: () => setError(""),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["sessions"] }),
    onError: (err) => setError(errorMessage(err)),
  });

  async function everywhere() {
    if (!window.confirm("Log out everywhere? Every session of yours ends, this one too.")) return;
    try {
      await client.logoutEverywhere();
      onLoggedOut();
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  if (session && !session.user) {
    return (
      <section aria-labelledby="account-title">
        <h2 id="account-title">Account</h2>
        <p>You are logged in with the admin token, which belongs to no user: it has no sessions to list here, and no password.</p>
      </section>
    );
  }
  return (
    <section aria-labelledby="account-title">
      <h2 id="account-title">Account</h2>
      {session?.user && (
        <p>
          {session.user.name} · {session.user.email} · {session.role}
        </p>
      )}
      <h3>Your sessions</h3>
      {error && <p role="alert">{error}</p>}
      {sessions.isPending && <p aria-busy="true">Loading sessions…</p>}
      {sessions.isError && <p role="alert">{errorMessage(sessions.error)}</p>}
      {sessions.data && (
        <table aria-label="Sessions">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Expires</th>
              <th scope="col">Address</th>
              <th scope="col">Browser</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {sessions.data.map((s) => (
              <tr key={s.id} aria-current={s.current ? "true" : undefined}>
                <td>
                  {when(s.created_at)} {s.current && <strong>(this session)</strong>}
                </td>
                <td>{when(s.expires_at)}</td>
                <td className="mono">{s.ip}</td>
                <td>
                  <small>{s.user_agent}</small>
                </td>
                <td>
                  {!s.current && (
                    <button type="button" aria-label={`End the session from ${s.ip} started ${when(s.created_at)}`} onClick={() => revoke.mutate(s.id)}>
                      End
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <button type="button" onClick={() => void everywhere()}>
        Log out everywhere
      </button>
      <h3>Change password</h3>
      <ChangePassword client={client} onChanged={() => void queries.invalidateQueries({ queryKey: ["sessions"] })} />
    </section>
  );
}

function ChangePassword({ client, onChanged }: { client: Client; onChanged: () => void }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [error, setError] = useState("");
  const [done, setDone] = useState("");

  async function submit(event: FormEvent) {
    event.preventDefault();
    setDone("");
    if (next !== repeat) {
      setError("The new passwords differ: type the same one twice.");
      return;
    }
    setError("");
    try {
      await client.changePassword(current, next);
      setCurrent("");
      setNext("");
      setRepeat("");
      setDone("Password changed. Your other sessions have ended.");
      onChanged();
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  return (
    <form aria-label="Change password" onSubmit={submit}>
      <label htmlFor="password-current">Current password</label>
      <input id="password-current" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
      <label htmlFor="password-new">New password</label>
      <input id="password-new" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required />
      <label htmlFor="password-repeat">Repeat new password</label>
      <input id="password-repeat" type="password" autoComplete="new-password" value={repeat} onChange={(e) => setRepeat(e.target.value)} required />
      <button type="submit">Change password</button>
      {error && <p role="alert">{error}</p>}
      <p role="status">{done}</p>
    </form>
  );
}
