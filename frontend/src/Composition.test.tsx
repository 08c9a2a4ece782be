import { act } from "react";
import { describe, expect, it, vi } from "vitest";
import { mounted } from "./testing";
import type { NodeType, Step } from "./api";
import { NodePanel } from "./NodePanel";
import { StepView } from "./StepView";

const callType: NodeType = {
  kind: "flow.call",
  category: "flow",
  icon: "workflow",
  title: "Call a flow",
  summary: "Runs another flow.",
  ports: [],
  schema: {},
  pure: false,
  fields: [{ name: "flow", type: "flow", label: "Flow", required: true }],
};

describe("composition in the editor", () => {
  const ctx = mounted();

  it("picks a called flow by name, and keeps one that is gone", () => {
    const onChange = vi.fn();
    const flows = [
      { id: "f1", name: "Notify on-call" },
      { id: "f2", name: "Shared error alert" },
    ];
    act(() =>
      ctx.root.render(<NodePanel node={{ id: "call", type: "flow.call", params: { flow: "gone" } }} type={callType} problems={[]} credentials={[]} flows={flows} onChange={onChange} />),
    );
    const select = ctx.container.querySelector<HTMLSelectElement>("#field-params-flow")!;
    expect([...select.options].map((o) => o.textContent)).toEqual(["None", "Notify on-call", "Shared error alert", "gone (missing)"]);
    expect(select.value).toBe("gone");
    act(() => {
      Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, "value")!.set!.call(select, "f2");
      select.dispatchEvent(new Event("change", { bubbles: true }));
    });
    expect(onChange).toHaveBeenLastCalledWith({ id: "call", type: "flow.call", params: { flow: "f2" } });
  });

  it("links a flow.call step to the run it called", () => {
    const onOpenRun = vi.fn();
    const step: Step = {
      node_id: "call", attempt: 1, status: "running", port: null, logs: [], started_at: "2026-12-04T10:00:00Z", duration_ms: 0,
      child_run_id: "01a24181-cff6-7939-a8f2-dfd25c0d4e86",
    };
    act(() => ctx.root.render(<StepView step={step} onOpenRun={onOpenRun} />));
    const link = ctx.container.querySelector<HTMLAnchorElement>("a")!;
    expect(link.getAttribute("href")).toBe("/runs/01a24181-cff6-7939-a8f2-dfd25c0d4e86");
    expect(ctx.container.textContent).toContain("waiting for it to end");
    act(() => link.click());
    expect(onOpenRun).toHaveBeenCalledWith("01a24181-cff6-7939-a8f2-dfd25c0d4e86");
  });
});
