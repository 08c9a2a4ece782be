import { useEffect, useState, type FormEvent } from "react";
import { ApiError, errorMessage, type Client, type InvitationLookup } from "./api";

// The pages of someone not logged in: logging in (as a user, or with an API
// token), and joining through an invitation's link.

/** Login logs a user in with email and password, or with the admin token
 * (automation, the first start); onDone hears of it. */
export function Login({ client, error, onDone, onError }: { client: Client; error?: string; onDone: () => Promise<void>; onError: (error: string) => void }) {
  const [withToken, setWithToken] = useState(false);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      if (withToken) await client.loginWithToken(token.trim());
      else await client.login(email.trim(), password);
      await onDone();
    } catch (err) {
      onError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} aria-label="Log in" className="login">
      {withToken ? (
        <>
          <p>Log in with the admin token, set with HOOKFLOW_ADMIN_TOKEN or printed by hookflow token reset.</p>
          <label htmlFor="token">Login token</label>{" "}
          <input id="token" type="password" autoComplete="current-password" value={token} onChange={(e) => setToken(e.target.value)} required />{" "}
        </>
      ) : (
        <>
          <label htmlFor="login-email">Email</label>{" "}
          <input id="login-email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required />{" "}
          <label htmlFor="login-password">Password</label>{" "}
          <input
            id="login-password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />{" "}
        </>
      )}
      <button type="submit" disabled={busy}>
        Log in
      </button>{" "}
      <button type="button" className="link" onClick={() => setWithToken(!withToken)}>
        {withToken ? "Use email and password" : "Use an API token"}
      </button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}

/** joinError says what became of an invitation the server refused. */
function joinError(err: unknown): string {
  if (err instanceof ApiError && err.status === 404) return "This invitation link is not known: check that it was copied whole, or ask for a new one.";
  if (err instanceof ApiError && err.status === 410) return err.message; // says whether it was used or expired, and what to do
  return errorMessage(err);
}

/** JoinPage takes an invitation's link (/join#<token>: the token stays in
 * the fragment, which the browser never sends): it says what the
 * invitation is for, and makes the user, logged in; onJoined then. */
export function JoinPage({ client, token, onJoined }: { client: Client; token: string; onJoined: () => Promise<void> }) {
  const [invitation, setInvitation] = useState<InvitationLookup | null>(null);
  const [failed, setFailed] = useState("");
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!token) {
      setFailed("This link holds no invitation: open the whole link you were given.");
      return;
    }
    client.lookupInvitation(token).then(setInvitation, (err: unknown) => setFailed(joinError(err)));
  }, [client, token]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (password !== repeat) {
      setError("The passwords differ: type the same one twice.");
      return;
    }
    setBusy(true);
    setError("");
    try {
      await client.acceptInvitation({ token, name: name.trim(), password, ...(invitation?.setup ? { email: email.trim() } : {}) });
      await onJoined();
    } catch (err) {
      setError(err instanceof ApiError && (err.status === 404 || err.status === 410) ? joinError(err) : errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  if (failed) {
    return (
      <section aria-labelledby="join-title">
        <h2 id="join-title">Join Hookflow</h2>
        <p role="alert">{failed}</p>
      </section>
    );
  }
  if (!invitation) return <p aria-busy="true">Looking the invitation up…</p>;
  return (
    <section aria-labelledby="join-title">
      <h2 id="join-title">{invitation.setup ? "Create the owner account" : "Join Hookflow"}</h2>
      <p>
        {invitation.setup
          ? "This Hookflow has no users yet: this account will own it."
          : `You are invited as ${invitation.role} (${invitation.email}).`}{" "}
        The invitation is valid until {new Date(invitation.expires_at).toLocaleString()}.
      </p>
      <form aria-label="Join" onSubmit={submit} className="join">
        {invitation.setup && (
          <>
            <label htmlFor="join-email">Email</label>
            <input id="join-email" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required />
          </>
        )}
        <label htmlFor="join-name">Name</label>
        <input id="join-name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} required />
        <label htmlFor="join-password">Password</label>
        <input
          id="join-password"
          type="password"
          autoComplete="new-password"
          aria-describedby="join-password-help"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
        <small id="join-password-help" className="help">
          At least 12 characters.
        </small>
        <label htmlFor="join-repeat">Repeat password</label>
        <input id="join-repeat" type="password" autoComplete="new-password" value={repeat} onChange={(e) => setRepeat(e.target.value)} required />
        <button type="submit" disabled={busy}>
          {invitation.setup ? "Create the account" : "Join"}
        </button>
        {error && <p role="alert">{error}</p>}
      </form>
    </section>
  );
}
