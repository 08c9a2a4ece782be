import { useEffect, useState, type FormEvent } from "react";
import { ApiError, Client, type FlowSummary } from "./api";

const client = new Client();

type State =
  | { kind: "loading" }
  | { kind: "signed-out"; error?: string }
  | { kind: "signed-in"; flows: FlowSummary[] }
  | { kind: "failed"; error: string };

function message(err: unknown): string {
  return err instanceof ApiError ? err.message : String(err);
}

// The editor's shell: log in with the admin token (the server keeps the
// session in an HttpOnly cookie), see the flows, log out. The canvas comes
// next.
export function App() {
  const [state, setState] = useState<State>({ kind: "loading" });

  async function loadFlows() {
    try {
      setState({ kind: "signed-in", flows: await client.listFlows() });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        setState({ kind: "signed-out" });
      } else {
        setState({ kind: "failed", error: message(err) });
      }
    }
  }

  useEffect(() => {
    void loadFlows();
  }, []);

  async function logout() {
    try {
      await client.logout();
    } finally {
      setState({ kind: "signed-out" });
    }
  }

  return (
    <main>
      <header>
        <h1>Hookflow</h1>
        {state.kind === "signed-in" && (
          <button type="button" onClick={() => void logout()}>
            Log out
          </button>
        )}
      </header>
      {state.kind === "loading" && <p aria-busy="true">Loading…</p>}
      {state.kind === "failed" && (
        <p role="alert">
          {state.error}{" "}
          <button type="button" onClick={() => void loadFlows()}>
            Try again
          </button>
        </p>
      )}
      {state.kind === "signed-out" && <Login error={state.error} onDone={loadFlows} onError={(error) => setState({ kind: "signed-out", error })} />}
      {state.kind === "signed-in" && <FlowList flows={state.flows} />}
    </main>
  );
}

function Login({ error, onDone, onError }: { error?: string; onDone: () => Promise<void>; onError: (error: string) => void }) {
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      await client.login(token.trim());
      await onDone();
    } catch (err) {
      onError(message(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} aria-label="Log in">
      <p>Log in with the token Hookflow printed when it first started.</p>
      <label htmlFor="token">Login token</label>{" "}
      <input id="token" type="password" autoComplete="current-password" value={token} onChange={(e) => setToken(e.target.value)} required />{" "}
      <button type="submit" disabled={busy}>
        Log in
      </button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}

function FlowList({ flows }: { flows: FlowSummary[] }) {
  if (flows.length === 0) {
    return <p>No flows yet. Create one through the API (see the README) while the canvas is on its way.</p>;
  }
  return (
    <ul aria-label="Flows">
      {flows.map((f) => (
        <li key={f.id}>
          {f.name} (version {f.version}, {f.active ? "active" : "inactive"})
        </li>
      ))}
    </ul>
  );
}
