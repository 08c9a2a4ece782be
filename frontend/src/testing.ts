// Helpers for tests that render components into jsdom.
import { act, type ReactNode } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach } from "vitest";

// React's act() needs to know it runs in a test.
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

/** mounted gives each test of a file a fresh container, unmounted after it. */
export function mounted() {
  const ctx = {} as { root: Root; container: HTMLDivElement; render: (node: ReactNode) => Promise<void> };
  beforeEach(() => {
    // Every test starts at the app's root address.
    window.history.replaceState(null, "", "/");
    ctx.container = document.createElement("div");
    document.body.append(ctx.container);
    ctx.root = createRoot(ctx.container);
    ctx.render = async (node) => act(async () => ctx.root.render(node));
  });
  afterEach(() => {
    act(() => ctx.root.unmount());
    ctx.container.remove();
  });
  return ctx;
}

/** json is a JSON answer of a fake server. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** settle lets pending fetches and React updates finish. */
export async function settle() {
  for (let i = 0; i < 5; i++) await act(async () => new Promise((r) => setTimeout(r, 0)));
}

/** setValue types into an input or picks in a select, as React hears it. */
export function setValue(el: HTMLInputElement | HTMLSelectElement, value: string) {
  const proto = el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, "value")!.set!.call(el, value);
  el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? "change" : "input", { bubbles: true }));
}
