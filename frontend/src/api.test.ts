import { describe, expect, it } from "vitest";
import { ApiError, Client, errorMessage } from "./api";

function fakeFetch(status: number, body: string, seen: Request[] = []): typeof fetch {
  return async (input, init) => {
    seen.push(new Request(new URL(String(input), "http://test"), init));
    return new Response(body, { status, headers: { "Content-Type": "application/json" } });
  };
}

describe("errorMessage", () => {
  it("names each problem after the server's message", () => {
    const err = new ApiError(422, "flow is invalid: 1 problem", [
      { node: "hook", field: "params.verify.credential", message: 'no credential is named "gh"' },
      { node: "", field: "edges[0].to", message: "is a trigger" },
    ]);
    expect(errorMessage(err)).toBe(
      'flow is invalid: 1 problem: node hook, params.verify.credential: no credential is named "gh"; edges[0].to: is a trigger',
    );
    expect(errorMessage(new ApiError(404, "flow not found"))).toBe("flow not found");
    const preview = new ApiError(422, "unknown name x (line 1, column 1)", [
      { node: "", field: "expression", message: "unknown name x (line 1, column 1)" },
    ]);
    // A problem the message already says is not said twice (previews).
    expect(errorMessage(preview)).toBe("unknown name x (line 1, column 1)");
    expect(errorMessage("plain")).toBe("plain");
  });
});

describe("Client", () => {
  it("sends the token and returns the flows", async () => {
    const seen: Request[] = [];
    const client = new Client({ token: "hf_x", fetch: fakeFetch(200, '{"flows":[{"id":"f1","name":"A"}]}', seen) });
    const flows = await client.listFlows();
    expect(flows.map((f) => f.id)).toEqual(["f1"]);
    expect(seen[0].headers.get("Authorization")).toBe("Bearer hf_x");
    expect(new URL(seen[0].url).pathname).toBe("/api/v1/flows");
  });

  it("turns an error answer into ApiError with the server's message and problems", async () => {
    const body = JSON.stringify({
      error: "flow is invalid: 1 problem",
      problems: [{ node: "a", field: "params.condition", message: "unknown name x" }],
    });
    const client = new Client({ token: "t", fetch: fakeFetch(422, body) });
    const err = await client.listFlows().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(422);
    expect((err as ApiError).message).toBe("flow is invalid: 1 problem");
    expect((err as ApiError).problems).toEqual([{ node: "a", field: "params.condition", message: "unknown name x" }]);
  });

  it("reports an answer that is not JSON", async () => {
    const client = new Client({ token: "t", fetch: fakeFetch(502, "<html>Bad Gateway</html>") });
    await expect(client.listFlows()).rejects.toMatchObject({ status: 502, message: expect.stringContaining("Bad Gateway") });
  });

  it("reports a server it cannot reach as status 0", async () => {
    const client = new Client({
      token: "t",
      fetch: async () => {
        throw new TypeError("Failed to fetch");
      },
    });
    await expect(client.listFlows()).rejects.toMatchObject({ status: 0, message: "cannot reach the server: Failed to fetch" });
  });
});

describe("Client with the session cookie", () => {
  it("logs in without an Authorization header, sending cookies to its own origin", async () => {
    const seen: Request[] = [];
    const client = new Client({ fetch: fakeFetch(200, '{"expires_at":"2026-12-01T00:00:00Z"}', seen) });
    await client.loginWithToken("hf_admin");
    expect(seen[0].method).toBe("POST");
    expect(new URL(seen[0].url).pathname).toBe("/api/v1/session");
    expect(seen[0].headers.get("Authorization")).toBeNull();
    expect(seen[0].credentials).toBe("same-origin");
    expect(await seen[0].json()).toEqual({ token: "hf_admin" });
  });

  it("logs a user in with email and password", async () => {
    const seen: Request[] = [];
    const client = new Client({ fetch: fakeFetch(200, '{"expires_at":"2026-12-01T00:00:00Z"}', seen) });
    await client.login("a@example.com", "correct horse battery");
    expect(await seen[0].json()).toEqual({ email: "a@example.com", password: "correct horse battery" });
  });

  it("builds audit filters into the query, and names a user's change with PATCH", async () => {
    const seen: Request[] = [];
    const client = new Client({ fetch: fakeFetch(200, '{"events":[]}', seen) });
    await client.listAudit({ action: "flow.", actor: "", cursor: "c2" });
    expect(Object.fromEntries(new URL(seen[0].url).searchParams)).toEqual({ action: "flow.", cursor: "c2" });
    await client.updateUser("u/1", { role: "viewer" });
    expect(seen[1].method).toBe("PATCH");
    expect(new URL(seen[1].url).pathname).toBe("/api/v1/users/u%2F1");
    expect(await seen[1].json()).toEqual({ role: "viewer" });
  });

  it("takes a 204 answer as done", async () => {
    const client = new Client({ fetch: async () => new Response(null, { status: 204 }) });
    await expect(client.logout()).resolves.toBeUndefined();
  });

  it("reports a caller whose session ended as a 401 ApiError", async () => {
    const client = new Client({ fetch: fakeFetch(401, '{"error":"your session has ended: log in again"}') });
    await expect(client.session()).rejects.toMatchObject({ status: 401, message: "your session has ended: log in again" });
  });

  it("answers null for the session of a caller not logged in", async () => {
    const client = new Client({ fetch: fakeFetch(200, '{"via":"anonymous","role":"","permissions":[],"user":null}') });
    await expect(client.session()).resolves.toBeNull();
    const signedIn = new Client({ fetch: fakeFetch(200, '{"via":"session","role":"owner","permissions":["flows:read"],"user":null}') });
    await expect(signedIn.session()).resolves.toMatchObject({ via: "session", role: "owner" });
  });

  it("answers null for a flow without a sample (204)", async () => {
    const client = new Client({ fetch: async () => new Response(null, { status: 204 }) });
    await expect(client.getSample("f1")).resolves.toBeNull();
    const empty = new Client({ fetch: fakeFetch(200, "") });
    await expect(empty.getSample("f1")).resolves.toBeNull();
    const missing = new Client({ fetch: fakeFetch(404, '{"error":"flow \\"f9\\" not found"}') });
    await expect(missing.getSample("f9")).rejects.toMatchObject({ status: 404 });
  });

  it("sends a test's options beside its payload", async () => {
    const seen: Request[] = [];
    const client = new Client({ fetch: fakeFetch(200, '{"id":"r1"}', seen) });
    await client.testFlow("f1", { n: 1 }, { "X-A": "b" }, { until: "check", pins: { call: { output: { ok: true } }, check: { output: 1, port: "false" } } });
    expect(new URL(seen[0].url).pathname).toBe("/api/v1/flows/f1/test");
    expect(await seen[0].json()).toEqual({
      payload: { n: 1 },
      headers: { "X-A": "b" },
      until: "check",
      pins: { call: { output: { ok: true } }, check: { output: 1, port: "false" } },
    });
    await client.testFlow("f1", {});
    expect(await seen[1].json()).toEqual({ payload: {}, headers: {} });
  });

  it("builds run filters into the query, leaving out empty ones", async () => {
    const seen: Request[] = [];
    const client = new Client({ fetch: fakeFetch(200, '{"runs":[]}', seen) });
    await client.listRuns({ flow_id: "f1", status: "failed", cursor: "" });
    const url = new URL(seen[0].url);
    expect(url.pathname).toBe("/api/v1/runs");
    expect(Object.fromEntries(url.searchParams)).toEqual({ flow_id: "f1", status: "failed" });
  });

  it("escapes ids in paths", async () => {
    const seen: Request[] = [];
    const client = new Client({ fetch: fakeFetch(200, "{}", seen) });
    await client.setActive("a/b", true);
    expect(new URL(seen[0].url).pathname).toBe("/api/v1/flows/a%2Fb/activate");
  });
});
