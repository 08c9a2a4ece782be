import { act } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mounted } from "./testing";
import { App } from "./App";


const allPermissions = ["flows:read", "flows:write", "runs:read", "runs:write", "credentials:read", "credentials:write", "users:read", "users:write"];
const viewer = {
  via: "session",
  user: { id: "u2", email: "vi@example.com", name: "Vi", role: "viewer", created_at: "" },
  role: "viewer",
  permissions: ["flows:read", "runs:read", "credentials:read"],
};

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** settle lets pending fetches and React updates finish. */
async function settle() {
  for (let i = 0; i < 5; i++) await act(async () => new Promise((r) => setTimeout(r, 0)));
}

/** until waits for a lazily loaded page: its module is fetched, then drawn. */
async function until(found: () => unknown, ms = 10_000) {
  for (const end = Date.now() + ms; !found(); ) {
    if (Date.now() > end) throw new Error("timed out waiting for the page");
    await act(async () => new Promise((r) => setTimeout(r, 20)));
  }
}

async function type(container: HTMLElement, selector: string, value: string) {
  await act(async () => {
    const input = container.querySelector<HTMLInputElement>(selector)!;
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!.call(input, value);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

async function submit(container: HTMLElement, label: string) {
  await act(async () => {
    container.querySelector(`form[aria-label="${label}"]`)!.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
  });
  await settle();
}

/** A fake server holding flows, and the requests it saw. */
function fakeServer() {
  const state = {
    loggedIn: false,
    // A session that ended: GET /session answers 401 rather than anonymous.
    ended: false,
    // What GET /session answers: the admin token unless a test says otherwise.
    session: { via: "session", user: null, role: "owner", permissions: allPermissions } as Record<string, unknown>,
    calls: [] as string[],
    flows: [
      { id: "f1", name: "Payments to Slack", version: 3, active: false, triggers: [], stats: { last_run: { id: "r1", status: "failed", created_at: "" }, runs_24h: 12 } },
    ] as Record<string, unknown>[],
  };
  const fetch = async (input: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    state.calls.push(`${method} ${input}`);
    if (input === "/api/v1/session" && method === "POST") {
      const { token } = JSON.parse(String(init.body)) as { token: string };
      if (token !== "hf_right") return json(401, { error: "invalid token" });
      state.loggedIn = true;
      return json(200, { expires_at: "2026-12-01T00:00:00Z" });
    }
    if (!state.loggedIn && input === "/api/v1/session" && !state.ended) {
      // As the server does: without credentials, no one is logged in.
      return json(200, { via: "anonymous", role: "", permissions: [], user: null });
    }
    if (!state.loggedIn) return json(401, { error: "authentication required" });
    if (input === "/api/v1/session") return json(200, state.session);
    if (input === "/api/v1/node-types") {
      return json(200, { node_types: [{ kind: "trigger.webhook", category: "trigger", title: "Webhook", summary: "", fields: [], ports: [], pure: false, schema: {} }] });
    }
    if (input === "/api/v1/flows" && method === "GET") return json(200, { flows: state.flows });
    if (input === "/api/v1/flows" && method === "POST") {
      const doc = JSON.parse(String(init.body)) as { name: string };
      const flow = { id: `f${state.flows.length + 1}`, name: doc.name, version: 1, active: false, triggers: [], stats: { last_run: null, runs_24h: 0 } };
      state.flows.push(flow);
      return json(201, flow);
    }
    const activate = /^\/api\/v1\/flows\/(\w+)\/(activate|deactivate)$/.exec(input);
    if (activate) {
      const flow = state.flows.find((f) => f.id === activate[1])!;
      flow.active = activate[2] === "activate";
      return json(200, flow);
    }
    const one = /^\/api\/v1\/flows\/(\w+)$/.exec(input);
    if (one && method === "GET") {
      const flow = state.flows.find((f) => f.id === one[1])!;
      return json(200, { ...flow, nodes: [{ id: "hook", type: "trigger.webhook" }], edges: [] });
    }
    if (one && method === "PUT") {
      const flow = state.flows.find((f) => f.id === one[1])!;
      const doc = JSON.parse(String(init.body)) as { name: string };
      flow.name = doc.name;
      flow.version = (flow.version as number) + 1;
      return json(200, flow);
    }
    if (input.startsWith("/api/v1/runs")) return json(200, { runs: [], next_cursor: null });
    const del = one;
    if (del && method === "DELETE") {
      state.flows = state.flows.filter((f) => f.id !== del[1]);
      return new Response(null, { status: 204 });
    }
    return json(404, { error: "not here" });
  };
  return { state, fetch };
}

describe("App", () => {
  const ctx = mounted();
  afterEach(() => vi.unstubAllGlobals());

  it("asks a logged-out user for the token, logs in and lists the flows", async () => {
    const server = fakeServer();
    vi.stubGlobal("fetch", server.fetch);
    await act(async () => ctx.root.render(<App />));
    await settle();
    expect(ctx.container.querySelector("#login-email"), "the login form asks for email and password").not.toBeNull();
    const useToken = [...ctx.container.querySelectorAll("button")].find((b) => b.textContent === "Use an API token")!;
    await act(async () => useToken.click());
    expect(ctx.container.querySelector("#token"), "the token field is one click away").not.toBeNull();

    await type(ctx.container, "#token", "hf_wrong");
    await submit(ctx.container, "Log in");
    expect(ctx.container.querySelector('[role="alert"]')?.textContent).toBe("invalid token");

    await type(ctx.container, "#token", "hf_right");
    await submit(ctx.container, "Log in");
    const row = ctx.container.querySelector("tbody tr");
    expect(row?.textContent).toContain("Payments to Slack");
    expect(row?.textContent).toContain("failed");
    expect(row?.textContent).toContain("12");
  });

  it("asks for a login when the session has ended", async () => {
    const server = fakeServer();
    server.state.ended = true;
    vi.stubGlobal("fetch", server.fetch);
    await act(async () => ctx.root.render(<App />));
    await settle();
    expect(ctx.container.querySelector("#login-email"), "a 401 from GET /session shows the login").not.toBeNull();
    expect(ctx.container.querySelector('[role="alert"]')).toBeNull();
  });

  it("activates, creates and deletes flows", async () => {
    const server = fakeServer();
    server.state.loggedIn = true;
    vi.stubGlobal("fetch", server.fetch);
    await act(async () => ctx.root.render(<App />));
    await settle();

    await act(async () => ctx.container.querySelector<HTMLInputElement>('[aria-label="Active: Payments to Slack"]')!.click());
    await settle();
    expect(server.state.calls).toContain("POST /api/v1/flows/f1/activate");
    expect(ctx.container.querySelector<HTMLInputElement>('[aria-label="Active: Payments to Slack"]')!.checked).toBe(true);

    await type(ctx.container, "#new-flow-name", "Orders to Postgres");
    await submit(ctx.container, "Create a flow");
    expect(window.location.pathname, "a new flow opens on its canvas").toBe("/flows/f2");
    const flows = [...ctx.container.querySelectorAll<HTMLAnchorElement>('nav[aria-label="Main"] a')].find((a) => a.textContent === "Flows")!;
    await act(async () => flows.click());
    await settle();
    expect(ctx.container.querySelector("tbody")?.textContent).toContain("Orders to Postgres");

    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    const deleteButton = () => [...ctx.container.querySelectorAll("tbody tr")][0].querySelector<HTMLButtonElement>("button:last-child")!;
    await act(async () => deleteButton().click());
    expect(confirm).toHaveBeenCalledOnce();
    expect(server.state.calls).not.toContain("DELETE /api/v1/flows/f1");

    confirm.mockReturnValue(true);
    await act(async () => deleteButton().click());
    await settle();
    expect(server.state.calls).toContain("DELETE /api/v1/flows/f1");
    expect(ctx.container.querySelector("tbody")?.textContent).not.toContain("Payments to Slack");
  });

  it("renames and duplicates flows", async () => {
    const server = fakeServer();
    server.state.loggedIn = true;
    vi.stubGlobal("fetch", server.fetch);
    vi.stubGlobal("prompt", () => "Payments to #sales");
    await act(async () => ctx.root.render(<App />));
    await settle();
    const button = (label: string) => [...ctx.container.querySelectorAll<HTMLButtonElement>("tbody tr:first-child button")].find((b) => b.textContent === label)!;

    await act(async () => button("Rename").click());
    await settle();
    expect(server.state.calls).toContain("PUT /api/v1/flows/f1");
    expect(ctx.container.querySelector("tbody")?.textContent).toContain("Payments to #sales");

    await act(async () => button("Duplicate").click());
    await settle();
    expect(ctx.container.querySelector("tbody")?.textContent).toContain("Payments to #sales (copy)");
  });

  it("offers the example flows when there are none", async () => {
    const server = fakeServer();
    server.state.loggedIn = true;
    server.state.flows = [];
    const bodies: string[] = [];
    vi.stubGlobal("fetch", async (input: string, init: RequestInit = {}) => {
      if (init.method === "POST") bodies.push(String(init.body));
      return server.fetch(input, init);
    });
    await act(async () => ctx.root.render(<App />));
    await settle();
    const buttons = [...ctx.container.querySelectorAll<HTMLButtonElement>('[aria-label="Examples"] button')];
    expect(buttons.map((b) => b.textContent)).toEqual([
      "GitHub push → Discord",
      "Stripe payment → Slack",
      "Shopify order → Postgres",
      "Approval via Slack link",
      "Shared error alert",
    ]);

    await act(async () => buttons[2].click());
    await settle();
    const sent = JSON.parse(bodies[0]) as { name: string; nodes: { type: string }[] };
    expect(sent.name).toBe("Orders to Postgres");
    expect(sent.nodes.map((n) => n.type)).toEqual(["trigger.webhook", "db.write"]);
    expect(window.location.pathname, "the flow made from the example opens").toBe("/flows/f1");
  });

  it("keeps the examples reachable once there are flows", async () => {
    const server = fakeServer();
    server.state.loggedIn = true;
    vi.stubGlobal("fetch", server.fetch);
    await act(async () => ctx.root.render(<App />));
    await settle();
    expect(ctx.container.querySelector("details.examples summary")?.textContent).toBe("New from example");
    const buttons = [...ctx.container.querySelectorAll<HTMLButtonElement>('details.examples [aria-label="Examples"] button')];
    expect(buttons).toHaveLength(5);
    await act(async () => buttons[0].click());
    await settle();
    expect(server.state.flows.map((f) => f.name)).toContain("Pushes to Discord");
    expect(window.location.pathname).toBe("/flows/f2");
  });

  it("loads the run history page when it is first opened", async () => {
    const server = fakeServer();
    server.state.loggedIn = true;
    vi.stubGlobal("fetch", server.fetch);
    await act(async () => ctx.root.render(<App />));
    await settle();
    const runs = [...ctx.container.querySelectorAll<HTMLAnchorElement>('nav[aria-label="Main"] a')].find((a) => a.textContent === "Runs")!;
    expect(runs.getAttribute("href")).toBe("/runs");
    await act(async () => runs.click());
    await until(() => ctx.container.querySelector("#runs-title"));
    expect(window.location.pathname).toBe("/runs");
    expect(ctx.container.querySelector('form[aria-label="Filter runs"]')).not.toBeNull();
    expect(server.state.calls.some((c) => c.startsWith("GET /api/v1/runs"))).toBe(true);
  });

  it("opens the page its address names, with its filters", async () => {
    const server = fakeServer();
    server.state.loggedIn = true;
    vi.stubGlobal("fetch", server.fetch);
    window.history.replaceState(null, "", "/runs?flow=f1&status=failed");
    await act(async () => ctx.root.render(<App />));
    await until(() => ctx.container.querySelector("#runs-title"));
    await settle();
    expect(ctx.container.querySelector<HTMLSelectElement>("#runs-status")?.value).toBe("failed");
    expect(server.state.calls).toContain("GET /api/v1/runs?flow_id=f1&status=failed");
  });

  it("shows a viewer the flows, with every control that changes one disabled and saying why", async () => {
    const server = fakeServer();
    server.state.loggedIn = true;
    server.state.session = viewer;
    vi.stubGlobal("fetch", server.fetch);
    // The canvas observes its size, which jsdom cannot: nothing to report.
    vi.stubGlobal(
      "ResizeObserver",
      class {
        observe() {}
        unobserve() {}
        disconnect() {}
      },
    );
    await act(async () => ctx.root.render(<App />));
    await settle();
    const nav = [...ctx.container.querySelectorAll('nav[aria-label="Main"] a')].map((a) => a.textContent);
    expect(nav).toEqual(["Flows", "Runs", "Deliveries", "Credentials", "Tokens", "Account"]);
    const create = [...ctx.container.querySelectorAll<HTMLButtonElement>("button")].find((b) => b.textContent === "Create")!;
    expect(create.disabled).toBe(true);
    expect(create.title).toBe("This needs the permission flows:write, which your role (viewer) does not give.");
    expect(ctx.container.querySelector<HTMLInputElement>("#import-flow")!.disabled).toBe(true);
    expect(ctx.container.querySelector<HTMLInputElement>('[aria-label="Active: Payments to Slack"]')!.disabled).toBe(true);

    await act(async () => ctx.container.querySelector<HTMLAnchorElement>('a[href="/flows/f1"]')!.click());
    await until(() => ctx.container.querySelector(".editor-bar"));
    const bar = (label: string) => [...ctx.container.querySelectorAll<HTMLButtonElement>(".editor-bar button")].find((b) => b.textContent === label)!;
    expect(bar("Save").disabled, "a viewer cannot save").toBe(true);
    expect(bar("Save").title).toContain("flows:write");
    expect(bar("Test").disabled, "nor test").toBe(true);
    expect(bar("Test").title).toContain("runs:write");
    expect(bar("Undo"), "but may look around").toBeDefined();
  }, 20_000);

  it("shows an error it can retry when the server fails", async () => {
    vi.stubGlobal("fetch", async () => json(503, { error: "the database does not answer" }));
    await act(async () => ctx.root.render(<App />));
    await settle();
    expect(ctx.container.querySelector('[role="alert"]')?.textContent).toContain("the database does not answer");
    expect(ctx.container.textContent).toContain("Try again");
  });
});
