import { act, type ReactNode } from "react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { describe, expect, it, vi } from "vitest";
import { json, mounted, setValue, settle } from "./testing";
import { Client, type Permission, type Session } from "./api";
import { accessOf, AccessProvider } from "./access";
import { JoinPage, Login } from "./LoginPages";
import { UsersPage } from "./UsersPage";
import { TokensPage } from "./TokensPage";
import { AuditPage, type AuditFilters } from "./AuditPage";

type Call = { method: string; path: string; body?: unknown };

/** A fake server answering from a table of "METHOD path" → answer, and the calls it saw. */
function fakeServer(routes: Record<string, (body: unknown) => Response>) {
  const calls: Call[] = [];
  const fetch = async (input: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    const body = init.body ? (JSON.parse(String(init.body)) as unknown) : undefined;
    calls.push({ method, path: input, body });
    const route = routes[`${method} ${input}`];
    return route ? route(body) : json(404, { error: "not here" });
  };
  return { calls, client: new Client({ fetch: fetch as typeof globalThis.fetch }) };
}

const user = (id: string, email: string, role: string) => ({ id, email, name: email.split("@")[0], role, created_at: "2026-12-01T10:00:00Z" });
const owner = user("u1", "owner@example.com", "owner");
const sessionOf = (u: ReturnType<typeof user>, permissions: Permission[]): Session =>
  ({ via: "session", user: u, role: u.role, permissions, expires_at: "2026-12-08T00:00:00Z" }) as Session;
const all: Permission[] = ["flows:read", "flows:write", "runs:read", "runs:write", "credentials:read", "credentials:write", "users:read", "users:write"];
const editorPermissions: Permission[] = ["flows:read", "flows:write", "runs:read", "runs:write", "credentials:read"];
const viewerPermissions: Permission[] = ["flows:read", "runs:read", "credentials:read"];

const byText = (root: HTMLElement, selector: string, text: string) =>
  [...root.querySelectorAll<HTMLElement>(selector)].find((e) => e.textContent === text) as HTMLButtonElement;

describe("accounts pages", () => {
  const ctx = mounted();

  async function show(node: ReactNode, session: Session | null = null) {
    const queries = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    await ctx.render(
      <QueryClientProvider client={queries}>
        <AccessProvider value={accessOf(session)}>{node}</AccessProvider>
      </QueryClientProvider>,
    );
    await settle();
  }

  describe("Login", () => {
    async function login(answer: () => Response) {
      const server = fakeServer({ "POST /api/v1/session": answer });
      const onDone = vi.fn(async () => {});
      let error = "";
      const draw = () => show(<Login client={server.client} error={error} onDone={onDone} onError={(e) => (error = e)} />);
      await draw();
      await act(async () => setValue(ctx.container.querySelector("#login-email")!, " owner@example.com "));
      await act(async () => setValue(ctx.container.querySelector("#login-password")!, "correct horse battery"));
      await act(async () => ctx.container.querySelector<HTMLFormElement>('form[aria-label="Log in"]')!.requestSubmit());
      await settle();
      await draw();
      return { server, onDone, error: () => ctx.container.querySelector('[role="alert"]')?.textContent };
    }

    it("logs in by email and password", async () => {
      const { server, onDone, error } = await login(() => json(200, { expires_at: "2026-12-08T00:00:00Z" }));
      expect(server.calls).toEqual([{ method: "POST", path: "/api/v1/session", body: { email: "owner@example.com", password: "correct horse battery" } }]);
      expect(onDone).toHaveBeenCalledOnce();
      expect(error()).toBeUndefined();
    });

    it("says a wrong password as the server does", async () => {
      const { onDone, error } = await login(() => json(401, { error: "wrong email or password" }));
      expect(onDone).not.toHaveBeenCalled();
      expect(error()).toBe("wrong email or password");
    });

    it("says when to try again after too many failures", async () => {
      const { error } = await login(() =>
        json(429, { error: "too many failed logins for this account: try again in 15 minutes" }, { "Retry-After": "900" }),
      );
      expect(error()).toBe("too many failed logins for this account: try again in 15 minutes");
    });

    it("logs in with an API token instead", async () => {
      const server = fakeServer({ "POST /api/v1/session": () => json(200, { expires_at: "" }) });
      await show(<Login client={server.client} onDone={async () => {}} onError={() => {}} />);
      expect(ctx.container.querySelector("#token")).toBeNull();
      await act(async () => byText(ctx.container, "button", "Use an API token").click());
      expect(ctx.container.querySelector("#login-email")).toBeNull();
      await act(async () => setValue(ctx.container.querySelector("#token")!, "hf_admin"));
      await act(async () => ctx.container.querySelector<HTMLFormElement>('form[aria-label="Log in"]')!.requestSubmit());
      await settle();
      expect(server.calls[0].body).toEqual({ token: "hf_admin" });
    });
  });

  describe("JoinPage", () => {
    function fill(label: string, value: string) {
      const l = byText(ctx.container, "label", label) as unknown as HTMLLabelElement;
      return act(async () => setValue(ctx.container.querySelector<HTMLInputElement>(`[id="${l.htmlFor}"]`)!, value));
    }

    it("creates the owner account from the setup invitation, email given", async () => {
      const server = fakeServer({
        "POST /api/v1/invitation": () => json(200, { email: "", role: "owner", expires_at: "2026-12-08T00:00:00Z", setup: true }),
        "POST /api/v1/invitation/accept": () => json(201, { user: owner }),
      });
      const onJoined = vi.fn(async () => {});
      await show(<JoinPage client={server.client} token="hf_inv_setup" onJoined={onJoined} />);
      expect(server.calls[0]).toEqual({ method: "POST", path: "/api/v1/invitation", body: { token: "hf_inv_setup" } });
      expect(ctx.container.querySelector("h2")?.textContent).toBe("Create the owner account");
      await fill("Email", "owner@example.com");
      await fill("Name", "Olga");
      await fill("Password", "correct horse battery");
      await fill("Repeat password", "correct horse battery");
      await act(async () => ctx.container.querySelector<HTMLFormElement>('form[aria-label="Join"]')!.requestSubmit());
      await settle();
      expect(server.calls[1].body).toEqual({ token: "hf_inv_setup", name: "Olga", password: "correct horse battery", email: "owner@example.com" });
      expect(onJoined).toHaveBeenCalledOnce();
    });

    it("says whom an invitation is for, sends no email, and checks the repeated password", async () => {
      const server = fakeServer({
        "POST /api/v1/invitation": () => json(200, { email: "ed@example.com", role: "editor", expires_at: "2026-12-08T00:00:00Z", setup: false }),
        "POST /api/v1/invitation/accept": () => json(422, { error: "password: must have at least 12 characters" }),
      });
      const onJoined = vi.fn(async () => {});
      await show(<JoinPage client={server.client} token="hf_inv_ed" onJoined={onJoined} />);
      expect(ctx.container.textContent).toContain("You are invited as editor (ed@example.com).");
      expect(byText(ctx.container, "label", "Email"), "the invitation has the email").toBeUndefined();
      await fill("Name", "Ed");
      await fill("Password", "short");
      await fill("Repeat password", "shorter");
      const form = ctx.container.querySelector<HTMLFormElement>('form[aria-label="Join"]')!;
      await act(async () => form.requestSubmit());
      await settle();
      expect(ctx.container.querySelector('[role="alert"]')?.textContent).toBe("The passwords differ: type the same one twice.");
      expect(server.calls).toHaveLength(1);
      await fill("Repeat password", "short");
      await act(async () => form.requestSubmit());
      await settle();
      expect(server.calls[1].body).toEqual({ token: "hf_inv_ed", name: "Ed", password: "short" });
      expect(ctx.container.querySelector('[role="alert"]')?.textContent).toBe("password: must have at least 12 characters");
      expect(onJoined).not.toHaveBeenCalled();
    });

    it("says a used invitation is used, and an unknown one unknown", async () => {
      const used = fakeServer({ "POST /api/v1/invitation": () => json(410, { error: "this invitation was already used: log in, or ask for a new one" }) });
      await show(<JoinPage client={used.client} token="hf_inv_used" onJoined={async () => {}} />);
      expect(ctx.container.querySelector('[role="alert"]')?.textContent).toBe("this invitation was already used: log in, or ask for a new one");
      expect(ctx.container.querySelector("form")).toBeNull();

      const unknown = fakeServer({});
      await show(<JoinPage client={unknown.client} token="hf_inv_what" onJoined={async () => {}} />);
      expect(ctx.container.querySelector('[role="alert"]')?.textContent).toContain("This invitation link is not known");
    });
  });

  describe("UsersPage", () => {
    const admin = user("u2", "ad@example.com", "admin");
    const editor = user("u3", "ed@example.com", "editor");
    const viewer = user("u4", "vi@example.com", "viewer");
    const routes = (patched: unknown[]) => ({
      "GET /api/v1/users": () => json(200, { users: [owner, admin, editor, viewer] }),
      "GET /api/v1/invitations": () =>
        json(200, {
          invitations: [{ id: "i1", email: "new@example.com", role: "viewer", invited_by: "u1", created_at: "", expires_at: "2026-12-08T00:00:00Z", expired: false }],
        }),
      "PATCH /api/v1/users/u3": (body: unknown) => {
        patched.push(body);
        return json(200, { ...editor, role: "admin" });
      },
      "POST /api/v1/invitations": () =>
        json(201, { id: "i2", email: "x@example.com", role: "editor", expires_at: "2026-12-08T00:00:00Z", token: "hf_inv_x", url: "http://hf.test/join#hf_inv_x" }),
    });
    const select = (email: string) => ctx.container.querySelector<HTMLSelectElement>(`select[aria-label="Role of ${email}"]`)!;

    it("shows a viewer the users, with no invite form and every control disabled", async () => {
      const server = fakeServer(routes([]));
      await show(<UsersPage client={server.client} />, sessionOf(viewer, [...viewerPermissions, "users:read"]));
      expect(ctx.container.querySelectorAll("tbody tr")).toHaveLength(5);
      expect(ctx.container.querySelector('form[aria-label="Invite"]')).toBeNull();
      for (const u of [owner, admin, editor, viewer]) {
        expect(select(u.email).disabled).toBe(true);
        expect(select(u.email).title).toContain("users:write");
      }
      expect(byText(ctx.container, "button", "Revoke").disabled).toBe(true);
    });

    it("lets an owner change a role, which sends PATCH", async () => {
      const patched: unknown[] = [];
      const server = fakeServer(routes(patched));
      await show(<UsersPage client={server.client} />, sessionOf(owner, all));
      expect([...select(editor.email).options].map((o) => o.value)).toEqual(["owner", "admin", "editor", "viewer"]);
      expect(select(owner.email).disabled).toBe(false);
      await act(async () => setValue(select(editor.email), "admin"));
      await settle();
      expect(patched).toEqual([{ role: "admin" }]);
      expect(ctx.container.textContent).toContain("ed@example.com is now admin.");
      expect(byText(ctx.container, "button", "Remove")?.disabled).toBe(true); // the owner's own row comes first
    });

    it("lets an admin manage editors and viewers only", async () => {
      const server = fakeServer(routes([]));
      await show(<UsersPage client={server.client} />, sessionOf(admin, all));
      expect(select(owner.email).disabled).toBe(true);
      expect(select(owner.email).title).toBe("Only an owner changes owners.");
      expect(select(admin.email).disabled).toBe(true);
      expect(select(editor.email).disabled).toBe(false);
      expect([...select(editor.email).options].map((o) => o.value)).toEqual(["editor", "viewer"]);
      expect([...ctx.container.querySelectorAll<HTMLOptionElement>("#invite-role option")].map((o) => o.value)).toEqual(["editor", "viewer"]);
    });

    it("invites, and shows the link once with how long it is valid", async () => {
      const server = fakeServer(routes([]));
      await show(<UsersPage client={server.client} />, sessionOf(owner, all));
      await act(async () => setValue(ctx.container.querySelector("#invite-email")!, "x@example.com"));
      await act(async () => ctx.container.querySelector<HTMLFormElement>('form[aria-label="Invite"]')!.requestSubmit());
      await settle();
      expect(server.calls.find((c) => c.method === "POST")?.body).toEqual({ email: "x@example.com", role: "editor" });
      const shown = ctx.container.querySelector('[aria-label="New invitation"]')!;
      expect(shown.querySelector("input")?.value).toBe("http://hf.test/join#hf_inv_x");
      expect(shown.textContent).toContain("shown only this once");
      expect(shown.textContent).toContain("valid for 7 days");
      expect(byText(shown as HTMLElement, "button", "Copy link")).toBeDefined();
    });
  });

  describe("TokensPage", () => {
    const editor = user("u3", "ed@example.com", "editor");
    const made = {
      id: "t1", name: "deploy", scopes: ["flows:read", "runs:write"], created_at: "2026-12-01T10:00:00Z", expires_at: null, last_used_at: null,
      user_id: "u3", user_email: "ed@example.com",
    };

    it("offers only the user's permissions as scopes, and shows a new token once", async () => {
      let tokens: unknown[] = [];
      const server = fakeServer({
        "GET /api/v1/tokens": () => json(200, { tokens }),
        "POST /api/v1/tokens": () => {
          tokens = [made];
          return json(201, { ...made, token: "hf_secret_once" });
        },
      });
      await show(<TokensPage client={server.client} />, sessionOf(editor, editorPermissions));
      const boxes = [...ctx.container.querySelectorAll<HTMLLabelElement>("fieldset label")];
      expect(boxes.map((l) => l.textContent?.trim())).toEqual(editorPermissions);
      await act(async () => setValue(ctx.container.querySelector("#token-name")!, "deploy"));
      await act(async () => boxes[3].querySelector("input")!.click()); // runs:write
      await act(async () => boxes[0].querySelector("input")!.click()); // flows:read
      await act(async () => setValue(ctx.container.querySelector("#token-expiry")!, "0"));
      await act(async () => ctx.container.querySelector<HTMLFormElement>('form[aria-label="New token"]')!.requestSubmit());
      await settle();
      expect(server.calls.find((c) => c.method === "POST")?.body).toEqual({ name: "deploy", scopes: ["flows:read", "runs:write"], expires_in_days: 0 });
      const shown = ctx.container.querySelector<HTMLInputElement>('input[aria-label="Token"]')!;
      expect(shown.value).toBe("hf_secret_once");
      expect(ctx.container.textContent).toContain("shown only this once");
      const row = ctx.container.querySelector('table[aria-label="Tokens"] tbody tr')!;
      expect(row.textContent).toContain("flows:read, runs:write");
      expect(row.textContent).not.toContain("hf_secret_once");

      await act(async () => byText(ctx.container, "button", "Done").click());
      expect(ctx.container.querySelector('input[aria-label="Token"]'), "gone once dismissed").toBeNull();
      expect(ctx.container.textContent).not.toContain("hf_secret_once");
    });

    it("tells the admin token that tokens belong to users", async () => {
      const server = fakeServer({ "GET /api/v1/tokens?all=true": () => json(200, { tokens: [made] }) });
      await show(<TokensPage client={server.client} />, { via: "session", user: null, role: "owner", permissions: all } as Session);
      expect(ctx.container.textContent).toContain("API tokens belong to users");
      expect(ctx.container.querySelector('form[aria-label="New token"]')).toBeNull();
      expect(ctx.container.querySelector('table[aria-label="Tokens"]')?.textContent).toContain("ed@example.com");
    });
  });

  describe("AuditPage", () => {
    const event = (id: string, action: string) => ({
      id, at: "2026-12-01T10:00:00Z", actor: { kind: "user", id: "u1", name: "owner@example.com" }, ip: "127.0.0.1", action,
      target: { kind: "flow", id: "f1", name: "Orders" }, detail: { version: 2 },
    });

    it("asks with the filters, shows the events, and loads more by the cursor", async () => {
      const server = fakeServer({
        "GET /api/v1/audit?action=flow.&actor=owner%40example.com&since=2026-12-01T00%3A00%3A00.000Z": () =>
          json(200, { events: [event("e3", "flow.updated")], next_cursor: "c2" }),
        "GET /api/v1/audit?action=flow.&actor=owner%40example.com&since=2026-12-01T00%3A00%3A00.000Z&cursor=c2": () =>
          json(200, { events: [event("e1", "flow.created")] }),
      });
      const onFilters = vi.fn();
      const since = new Date("2026-12-01T00:00:00Z");
      // A datetime-local value in the reader's zone for that instant.
      const local = new Date(since.getTime() - since.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
      const filters: AuditFilters = { action: "flow.", actor: "owner@example.com", since: local, until: "" };
      await show(<AuditPage client={server.client} filters={filters} onFilters={onFilters} />);
      expect(server.calls[0].path).toBe("/api/v1/audit?action=flow.&actor=owner%40example.com&since=2026-12-01T00%3A00%3A00.000Z");
      const rows = () => [...ctx.container.querySelectorAll("tbody tr")].map((r) => r.getAttribute("data-action"));
      expect(rows()).toEqual(["flow.updated"]);
      expect(ctx.container.querySelector("tbody tr")?.textContent).toContain("version: 2");
      await act(async () => byText(ctx.container, "button", "Load more").click());
      await settle();
      expect(server.calls[1].path).toContain("&cursor=c2");
      expect(rows()).toEqual(["flow.updated", "flow.created"]);
      expect(byText(ctx.container, "button", "Load more"), "the last page").toBeUndefined();

      await act(async () => setValue(ctx.container.querySelector("#audit-action")!, "login"));
      expect(onFilters).toHaveBeenLastCalledWith({ ...filters, action: "login" });
    });
  });
});
