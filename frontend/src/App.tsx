import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Component, lazy, Suspense, useEffect, useState, type ReactNode } from "react";
import { BrowserRouter, Navigate, NavLink, Route, Routes, useLocation, useNavigate, useParams, useSearchParams } from "react-router";
import { ApiError, Client, errorMessage, type Session } from "./api";
import { FlowsPage } from "./FlowsPage";
import { CredentialsPage } from "./CredentialsPage";
import { accessOf, AccessProvider } from "./access";
import { JoinPage, Login } from "./LoginPages";
import { UsersPage } from "./UsersPage";
import { TokensPage } from "./TokensPage";
import { AccountPage } from "./AccountPage";

// The canvas pages (the editor, and the run history with its run canvas)
// are loaded when first opened, so the login screen and the flows list do
// not download React Flow and the editor's fields.
const FlowEditor = lazy(() => import("./FlowEditor").then((m) => ({ default: m.FlowEditor })));
const RunsPage = lazy(() => import("./RunsPage").then((m) => ({ default: m.RunsPage })));
const RunView = lazy(() => import("./RunsPage").then((m) => ({ default: m.RunView })));
const DeliveriesPage = lazy(() => import("./RunsPage").then((m) => ({ default: m.DeliveriesPage })));
const DeliveryView = lazy(() => import("./RunsPage").then((m) => ({ default: m.DeliveryView })));
const AuditPage = lazy(() => import("./AuditPage").then((m) => ({ default: m.AuditPage })));

type State = { kind: "loading" } | { kind: "signed-out"; error?: string } | { kind: "signed-in"; session: Session } | { kind: "failed"; error: string };

// The editor's shell: log in with email and password, or an API token (the
// server keeps the session in an HttpOnly cookie), or join through an
// invitation's link; then the flows, runs, deliveries, credentials and the
// accounts pages, each page (and what is chosen on it) at its own URL, so a
// reload, Back and a link all come back to it; log out. What the session
// may do (GET /session's permissions) goes to every page, which hides or
// disables the controls it may not use.
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
  const location = useLocation();

  async function checkSession() {
    try {
      // No one logged in yet, or a session that ended (401): the login.
      const session = await client.session();
      setState(session ? { kind: "signed-in", session } : { kind: "signed-out" });
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
      loggedOut();
    }
  }

  function loggedOut() {
    queries.clear();
    navigate("/flows");
    setState({ kind: "signed-out" });
  }

  async function joined() {
    queries.clear();
    await checkSession();
    navigate("/flows", { replace: true });
  }

  const access = accessOf(state.kind === "signed-in" ? state.session : null);
  const can = access.can;
  // An invitation's link opens its page whether or not someone is logged in.
  const joining = location.pathname === "/join";

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
              {can("users:read") && (
                <>
                  <NavLink to="/users" className="nav">
                    Users
                  </NavLink>{" "}
                  <NavLink to="/audit" className="nav">
                    Audit
                  </NavLink>{" "}
                </>
              )}
              <NavLink to="/tokens" className="nav">
                Tokens
              </NavLink>{" "}
              <NavLink to="/account" className="nav">
                Account
              </NavLink>{" "}
              <small className="whoami">{state.session.user ? `${state.session.user.email} (${state.session.role})` : "admin token"}</small>{" "}
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
        {joining && state.kind !== "loading" && <JoinPage client={client} token={location.hash.slice(1)} onJoined={joined} />}
        {!joining && state.kind === "signed-out" && (
          <Login client={client} error={state.error} onDone={checkSession} onError={(error) => setState({ kind: "signed-out", error })} />
        )}
        {!joining && state.kind === "signed-in" && (
          <AccessProvider value={access}>
            <Pages client={client} onLoggedOut={loggedOut} />
          </AccessProvider>
        )}
      </main>
    </QueryClientProvider>
  );
}

// Pages maps the URL to a page; pages tell where to go through navigate.
function Pages({ client, onLoggedOut }: { client: Client; onLoggedOut: () => void }) {
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
      <Route path="/users" element={<UsersPage client={client} />} />
      <Route path="/tokens" element={<TokensPage client={client} />} />
      <Route path="/account" element={<AccountPage client={client} onLoggedOut={onLoggedOut} />} />
      <Route path="/audit" element={<Lazy page={<AuditRoute client={client} />} />} />
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

function AuditRoute({ client }: { client: Client }) {
  const q = useQueryParams();
  const filters = { action: q.get("action"), actor: q.get("actor"), since: q.get("since"), until: q.get("until") };
  return <AuditPage client={client} filters={filters} onFilters={q.set} />;
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
