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
