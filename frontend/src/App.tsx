import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Component, lazy, Suspense, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { ApiError, Client, errorMessage } from "./api";
import { FlowsPage } from "./FlowsPage";
import { CredentialsPage } from "./CredentialsPage";

// The canvas pages (the editor, and the run history with its run canvas)
// are loaded when first opened, so the login screen and the flows list do
// not download React Flow and the editor's fields.
const FlowEditor = lazy(() => import("./FlowEditor").then((m) => ({ default: m.FlowEditor })));
const RunsPage = lazy(() => import("./RunsPage").then((m) => ({ default: m.RunsPage })));
const RunView = lazy(() => import("./RunsPage").then((m) => ({ default: m.RunView })));
const DeliveriesPage = lazy(() => import("./RunsPage").then((m) => ({ default: m.DeliveriesPage })));

/** What the signed-in user looks at. */
type View = { page: "flows" } | { page: "flow"; id: string } | { page: "runs" } | { page: "run"; id: string } | { page: "credentials" } | { page: "deliveries" };

type State = { kind: "loading" } | { kind: "signed-out"; error?: string } | { kind: "signed-in" } | { kind: "failed"; error: string };

// The editor's shell: log in with the admin token (the server keeps the
// session in an HttpOnly cookie), then the flows, runs, deliveries and
// credentials; log out.
export function App({ client = new Client() }: { client?: Client }) {
  const [state, setState] = useState<State>({ kind: "loading" });
  const [view, setView] = useState<View>({ page: "flows" });
  const [queries] = useState(() => new QueryClient({ defaultOptions: { queries: { retry: false } } }));

  async function checkSession() {
    try {
      await client.session();
      setState({ kind: "signed-in" });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        setState({ kind: "signed-out" });
      } else {
        setState({ kind: "failed", error: errorMessage(err) });
      }
    }
  }

  useEffect(() => {
    // Once, at start: the client is fixed for the app's life.
    void checkSession();
  }, []);

  async function logout() {
    try {
      await client.logout();
    } finally {
      queries.clear();
      setView({ page: "flows" });
      setState({ kind: "signed-out" });
    }
  }

  return (
    <QueryClientProvider client={queries}>
      <main>
        <header>
          <h1>Hookflow</h1>
          {state.kind === "signed-in" && (
            <nav aria-label="Main">
              <button type="button" aria-current={view.page.startsWith("flow") ? "page" : undefined} onClick={() => setView({ page: "flows" })}>
                Flows
              </button>{" "}
              <button type="button" aria-current={view.page.startsWith("run") ? "page" : undefined} onClick={() => setView({ page: "runs" })}>
                Runs
              </button>{" "}
              <button type="button" aria-current={view.page === "deliveries" ? "page" : undefined} onClick={() => setView({ page: "deliveries" })}>
                Deliveries
              </button>{" "}
              <button type="button" aria-current={view.page === "credentials" ? "page" : undefined} onClick={() => setView({ page: "credentials" })}>
                Credentials
              </button>{" "}
              <button type="button" onClick={() => void logout()}>
                Log out
              </button>
            </nav>
          )}
        </header>
        {state.kind === "loading" && <p aria-busy="true">Loading…</p>}
        {state.kind === "failed" && (
          <p role="alert">
            {state.error}{" "}
            <button type="button" onClick={() => void checkSession()}>
              Try again
            </button>
          </p>
        )}
        {state.kind === "signed-out" && (
          <Login client={client} error={state.error} onDone={checkSession} onError={(error) => setState({ kind: "signed-out", error })} />
        )}
        {state.kind === "signed-in" && view.page === "flows" && <FlowsPage client={client} onOpen={(id) => setView({ page: "flow", id })} />}
        {state.kind === "signed-in" && view.page === "credentials" && <CredentialsPage client={client} />}
        {state.kind === "signed-in" && (
          <PageBoundary key={view.page}>
            <Suspense fallback={<p aria-busy="true">Loading…</p>}>
              {view.page === "flow" && <FlowEditor client={client} flowId={view.id} onClose={() => setView({ page: "flows" })} />}
              {view.page === "runs" && <RunsPage client={client} onOpen={(id) => setView({ page: "run", id })} />}
              {view.page === "deliveries" && <DeliveriesPage client={client} onOpenRun={(id) => setView({ page: "run", id })} />}
              {view.page === "run" && (
                // Keyed by the run, so a replay opens with nothing chosen on its canvas.
                <RunView
                  key={view.id}
                  client={client}
                  runId={view.id}
                  onOpen={(id) => setView({ page: "run", id })}
                  onClose={() => setView({ page: "runs" })}
                />
              )}
            </Suspense>
          </PageBoundary>
        )}
      </main>
    </QueryClientProvider>
  );
}

/** PageBoundary shows a page that failed to load (such as a lazily loaded
 * part of an older build, gone after an upgrade) as an error to reload from,
 * instead of a blank app. */
class PageBoundary extends Component<{ children: ReactNode }, { error: string }> {
  state = { error: "" };

  static getDerivedStateFromError(err: unknown) {
    return { error: errorMessage(err) };
  }

  render() {
    if (!this.state.error) return this.props.children;
    return (
      <p role="alert">
        This page could not be loaded: {this.state.error}{" "}
        <button type="button" onClick={() => window.location.reload()}>
          Reload
        </button>
      </p>
    );
  }
}

function Login({ client, error, onDone, onError }: { client: Client; error?: string; onDone: () => Promise<void>; onError: (error: string) => void }) {
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      await client.login(token.trim());
      await onDone();
    } catch (err) {
      onError(errorMessage(err));
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
