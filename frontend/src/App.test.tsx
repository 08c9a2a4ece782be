import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "./App";

// React's act() needs to know it runs in a test.
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

describe("App", () => {
  let root: Root;
  let container: HTMLDivElement;

  beforeEach(() => {
    container = document.createElement("div");
    document.body.append(container);
    root = createRoot(container);
  });

  afterEach(() => {
    act(() => root.unmount());
    container.remove();
    vi.unstubAllGlobals();
  });

  it("asks a logged-out user for the token, logs in and lists the flows", async () => {
    let loggedIn = false;
    const calls: string[] = [];
    vi.stubGlobal("fetch", async (input: string, init: RequestInit = {}) => {
      calls.push(`${init.method} ${input}`);
      if (input === "/api/v1/session" && init.method === "POST") {
        const { token } = JSON.parse(String(init.body)) as { token: string };
        if (token !== "hf_right") return json(401, { error: "invalid token" });
        loggedIn = true;
        return json(200, { expires_at: "2026-12-01T00:00:00Z" });
      }
      if (!loggedIn) return json(401, { error: "authentication required" });
      return json(200, { flows: [{ id: "f1", name: "Payments to Slack", version: 3, active: true, triggers: [] }] });
    });

    await act(async () => root.render(<App />));
    const input = container.querySelector<HTMLInputElement>("#token");
    expect(input, "the login form is shown").not.toBeNull();

    const submit = async (token: string) => {
      await act(async () => {
        const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!;
        setValue.call(container.querySelector("#token"), token);
        container.querySelector("#token")!.dispatchEvent(new Event("input", { bubbles: true }));
      });
      await act(async () => {
        container.querySelector("form")!.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
      });
    };

    await submit("hf_wrong");
    expect(container.querySelector('[role="alert"]')?.textContent).toBe("invalid token");

    await submit("hf_right");
    expect(container.textContent).toContain("Payments to Slack (version 3, active)");
    expect(calls).toContain("POST /api/v1/session");
  });

  it("shows an error it can retry when the server fails", async () => {
    vi.stubGlobal("fetch", async () => json(503, { error: "the database does not answer" }));
    await act(async () => root.render(<App />));
    expect(container.querySelector('[role="alert"]')?.textContent).toContain("the database does not answer");
    expect(container.textContent).toContain("Try again");
  });
});
