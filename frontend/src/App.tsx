import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Component, lazy, Suspense, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { BrowserRouter, Navigate, NavLink, Route, Routes, useNavigate, useParams, useSearchParams } from "react-router";
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
const DeliveryView = lazy(() => import("./RunsPage").then((m) => ({ default: m.DeliveryView })));

type State = { kind: "loading" } | { kind: "signed-out"; error?: string } | { kind: "signed-in" } | { kind: "failed"; error: string };

// The editor's shell: log in with the admin token (the server keeps the
// session in an HttpOnly cookie), then the flows, runs, deliveries and
// credentials, each page (and what is chosen on it) at its own URL, so a
// reload, Back and a link all come back to it; log out.
export function App({ client = new Client() }: { client?: Client }) {
  return (
    <BrowserRouter>
      <Shell client={client} />
    </BrowserRouter>
  );
}

function Shell({ client }: { client: Client }) {
  const [state, setState] = useState<State>({ kind: "loading" });
  const [queries] = useState(() => new QueryClient({ defaultOptions: { queries: { retry: false } } }));
  const navigate = useNavigate();

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
      navigate("/flows");
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
              <NavLink to="/flows" className="nav">
                Flows
              </NavLink>{" "}
              <NavLink to="/runs" className="nav">
                Runs
              </NavLink>{" "}
              <NavLink to="/deliveries" className="nav">
                Deliveries
              </NavLink>{" "}
              <NavLink to="/credentials" className="nav">
                Credentials
              </NavLink>{" "}
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
        {state.kind === "signed-in" && <Pages client={client} />}
      </main>
    </QueryClientProvider>
  );
}

// Pages maps the URL to a page; pages tell where to go through navigate.
function Pages({ client }: { client: Client }) {
  const navigate = useNavigate();
  return (
    <Routes>
      <Route path="/flows" element={<FlowsPage client={client} onOpen={(id) => navigate(`/flows/${id}`)} />} />
      <Route path="/credentials" element={<CredentialsPage client={client} />} />
      <Route path="/flows/:id" element={<Lazy page={<FlowRoute client={client} />} />} />
      <Route path="/runs" element={<Lazy page={<RunsRoute client={client} />} />} />
      <Route path="/runs/:id" element={<Lazy page={<RunRoute client={client} />} />} />
      <Route path="/deliveries" element={<Lazy page={<DeliveriesRoute client={client} />} />} />
      <Route path="/deliveries/:id" element={<Lazy page={<DeliveryRoute client={client} />} />} />
      <Route path="*" element={<Navigate to="/flows" replace />} />
    </Routes>
  );
}

/** Lazy shows a page loaded when first opened. */
function Lazy({ page }: { page: ReactNode }) {
  return (
    <PageBoundary>
      <Suspense fallback={<p aria-busy="true">Loading…</p>}>{page}</Suspense>
    </PageBoundary>
  );
}

/** useQueryParams reads the page's search parameters ("" when absent) and
 * sets them. */
function useQueryParams() {
  const [params, setParams] = useSearchParams();
  const get = (name: string) => params.get(name) ?? "";
  // set replaces the parameters in the URL (empty ones are left out), as
  // a filter changes, without a step in the history for each keystroke.
  const set = (values: Record<string, string>) => {
    const next = new URLSearchParams(Object.entries(values).filter(([, v]) => v !== ""));
    if (next.toString() !== params.toString()) setParams(next, { replace: true });
  };
  return { get, set };
}

function FlowRoute({ client }: { client: Client }) {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const q = useQueryParams();
  return (
    <FlowEditor
      key={id}
      client={client}
      flowId={id}
      node={q.get("node") || null}
      onNode={(node) => q.set({ node: node ?? "" })}
      onClose={() => navigate("/flows")}
    />
  );
}

function RunsRoute({ client }: { client: Client }) {
  const navigate = useNavigate();
  const q = useQueryParams();
  const filters = { flow: q.get("flow"), status: q.get("status"), from: q.get("from"), to: q.get("to") };
  return <RunsPage client={client} filters={filters} onFilters={q.set} onOpen={(id) => navigate(`/runs/${id}`)} />;
}

function RunRoute({ client }: { client: Client }) {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const q = useQueryParams();
  return (
    // Keyed by the run, so a replay opens with nothing chosen on its canvas.
    <RunView
      key={id}
      client={client}
      runId={id}
      node={q.get("node") || null}
      onNode={(node) => q.set({ node: node ?? "" })}
      onOpen={(run) => navigate(`/runs/${run}`)}
      onClose={() => navigate("/runs")}
    />
  );
}

function DeliveriesRoute({ client }: { client: Client }) {
  const navigate = useNavigate();
  const q = useQueryParams();
  const filters = { flow: q.get("flow"), status: q.get("status"), from: q.get("from"), to: q.get("to") };
  return (
    <DeliveriesPage
      client={client}
      filters={filters}
      onFilters={q.set}
      onOpen={(id) => navigate(`/deliveries/${id}`)}
      onOpenRun={(id) => navigate(`/runs/${id}`)}
    />
  );
}

function DeliveryRoute({ client }: { client: Client }) {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  return <DeliveryView client={client} deliveryId={id} onOpenRun={(run) => navigate(`/runs/${run}`)} onClose={() => navigate("/deliveries")} />;
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
