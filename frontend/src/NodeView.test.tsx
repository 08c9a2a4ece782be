import { act } from "react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { mounted } from "./testing";
import { NodeView, type ShownOutput } from "./NodeView";

const ctx = mounted();

function view(props: { output?: ShownOutput; pinDenied?: string; testDenied?: string } = {}) {
  const on = { pin: vi.fn(), test: vi.fn(), close: vi.fn() };
  const node = (
    <NodeView
      nodeId="crm"
      title="HTTP request"
      inputs={[{ key: "trigger", title: "Trigger", path: "trigger", value: { body: { id: 7 } } }]}
      output={props.output}
      pinDenied={props.pinDenied}
      testDenied={props.testDenied}
      onPin={on.pin}
      onTest={on.test}
      onClose={on.close}
    >
      <input aria-label="URL" />
    </NodeView>
  );
  return { node, on };
}

const button = (name: string) => [...ctx.container.querySelectorAll("button")].find((b) => b.textContent === name)!;
const click = (el: HTMLElement) => act(() => el.dispatchEvent(new MouseEvent("click", { bubbles: true })));
const key = (el: Element, k: string) => act(() => el.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true })));

describe("NodeView", () => {
  beforeEach(() => localStorage.clear());

  it("tests up to the node, or the node alone", async () => {
    const { node, on } = view();
    await ctx.render(node);
    await click(button("Test up to here"));
    await click(button("Test this node"));
    expect(on.test.mock.calls).toEqual([[false], [true]]);
  });

  it("says why a test is not allowed", async () => {
    await ctx.render(view({ testDenied: "Your role may not run flows." }).node);
    expect(button("Test this node").disabled).toBe(true);
    expect(button("Test this node").title).toBe("Your role may not run flows.");
  });

  it("pins the output it shows, with its port, and unpins a pinned one", async () => {
    const shown = view({ output: { value: { id: 7 }, port: "true", pinned: false } });
    await ctx.render(shown.node);
    await click(button("Pin this output"));
    expect(shown.on.pin).toHaveBeenCalledWith({ output: { id: 7 }, port: "true" });

    const pinned = view({ output: { value: { id: 7 }, pinned: true } });
    await ctx.render(pinned.node);
    expect(ctx.container.textContent).toContain("Pinned");
    await click(button("Unpin"));
    expect(pinned.on.pin).toHaveBeenCalledWith(null);
  });

  it("cannot pin a node the server refuses to pin, nor an output not seen yet", async () => {
    await ctx.render(view({ output: { value: 1, pinned: false }, pinDenied: "A trigger cannot be pinned." }).node);
    expect(button("Pin this output").disabled).toBe(true);
    expect(button("Pin this output").title).toBe("A trigger cannot be pinned.");
    await ctx.render(view().node);
    expect(button("Pin this output").disabled).toBe(true);
  });

  it("closes on Escape", async () => {
    const { node, on } = view();
    await ctx.render(node);
    await key(ctx.container.querySelector("input")!, "Escape");
    expect(on.close).toHaveBeenCalledTimes(1);
  });

  it("resizes panes from the keyboard and remembers the sizes", async () => {
    await ctx.render(view().node);
    const bar = ctx.container.querySelector('[role="separator"][aria-label="Resize the node view"]')!;
    const before = Number(bar.getAttribute("aria-valuenow"));
    await key(bar, "ArrowLeft");
    expect(Number(bar.getAttribute("aria-valuenow"))).toBe(before + 16);
    expect(JSON.parse(localStorage.getItem("hookflow.nodeView.width")!)).toEqual([before + 16]);
  });
});
