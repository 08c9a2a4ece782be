import { ReactFlow, useNodesState } from "@xyflow/react";
import { act } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { mounted, settle } from "./testing";
import type { FlowNode, NodeType, Step } from "./api";
import { edgeTypes, nodeTypes } from "./FlowNodeView";
import { notesOf, readOnlyNotes, type CanvasNode, type NoteNode } from "./graph";

const kind = (k: string, extra: Partial<NodeType>): NodeType => ({
  kind: k, category: "data", title: k, summary: "", icon: "box", fields: [], ports: [], pure: true, schema: {}, ...extra,
});
const loop = kind("foreach", { category: "flow", title: "Loop", icon: "repeat", ports: ["each", "done"] });
const shape = kind("transform", { title: "Transform", icon: "shuffle" });

const step = (node_id: string, extra: Partial<Step> = {}): Step => ({
  node_id, attempt: 1, status: "succeeded", port: "", duration_ms: 4, logs: [], started_at: "2026-07-01T10:00:00Z", ...extra,
});

function flowNode(node: FlowNode, type: NodeType, steps?: Step[]): CanvasNode {
  return { id: node.id, type: "flowNode", position: { x: 0, y: 0 }, data: { node, type, problems: [], steps } };
}

describe("the canvas", () => {
  const ctx = mounted();
  // React Flow observes sizes, which jsdom cannot: nothing to report.
  beforeEach(() => vi.stubGlobal("ResizeObserver", class { observe() {} unobserve() {} disconnect() {} }));
  afterEach(() => vi.unstubAllGlobals());

  /** Canvas holds nodes and notes as the editor does, and shows its state. */
  let shown: { notes: NoteNode[] };
  function Canvas({ flow, notes: initial }: { flow: CanvasNode[]; notes: NoteNode[] }) {
    const [notes, , onNotesChange] = useNodesState<NoteNode>(initial);
    shown = { notes };
    return (
      <div style={{ width: 800, height: 600 }}>
        <ReactFlow nodes={[...flow, ...notes]} edges={[]} nodeTypes={nodeTypes} edgeTypes={edgeTypes} onNodesChange={(c) => onNotesChange(c as never)} />
      </div>
    );
  }
  const node = (id: string) => ctx.container.querySelector<HTMLElement>(`[data-node="${id}"]`)!;

  it("draws a node's icon and category, its status and items after a run, and a pinned output", async () => {
    const flow = [
      flowNode({ id: "shape", type: "transform", ui: { pin: { output: { a: 1 } } } }, shape, [
        step("shape", { iteration: "0", output: { a: 1 } }),
        step("shape", { iteration: "1", output: [{ a: 2 }, { a: 3 }] }),
      ]),
      flowNode({ id: "each", type: "foreach" }, loop, [step("each", { port: "done", output: [1, 2] })]),
      flowNode({ id: "later", type: "transform" }, shape, [step("later", { status: "running", resume_at: "2026-07-01T10:05:00Z" })]),
      flowNode({ id: "fresh", type: "transform" }, shape),
    ];
    await ctx.render(<Canvas flow={flow} notes={[]} />);
    await settle();
    expect(node("shape").getAttribute("data-category")).toBe("data");
    expect(node("shape").querySelector("svg.lucide-shuffle")?.getAttribute("aria-hidden")).toBe("true");
    expect(node("each").querySelector("svg.lucide-repeat")).not.toBeNull();
    expect(node("shape").querySelector('[role="img"]')?.getAttribute("aria-label")).toBe("Output pinned");
    expect(node("each").querySelector('[aria-label="Output pinned"]')).toBeNull();

    expect(node("shape").getAttribute("data-result")).toBe("succeeded");
    expect(node("shape").querySelector(".node-result")?.textContent).toContain("succeeded · 3 items");
    expect(node("each").querySelector(".node-result")?.textContent).toContain("succeeded · 2 iterations");
    expect(node("later").getAttribute("data-result")).toBe("waiting");
    expect(node("later").querySelector(".node-items"), "no items while it waits").toBeNull();
    expect(node("fresh").querySelector(".node-result"), "not run: nothing to show").toBeNull();
  });

  it("draws a run's notes to read, not to edit", async () => {
    const notes = readOnlyNotes({ notes: [{ id: "note_1", text: "why:\nthe CRM rate-limits", position: { x: 10, y: 10 }, color: "green" }] });
    expect(notes[0]).toMatchObject({ draggable: false, selectable: false, focusable: false });
    await ctx.render(<Canvas flow={[]} notes={notes} />);
    await settle();
    const note = ctx.container.querySelector<HTMLElement>('.react-flow__node[data-id="note:note_1"]')!;
    expect(note.querySelector('[role="note"]')?.getAttribute("aria-label")).toBe("Sticky note");
    expect(note.querySelector(".note")?.getAttribute("data-color")).toBe("green");
    expect(note.querySelector(".note-text")?.textContent).toBe("why:\nthe CRM rate-limits");
    expect(note.querySelector("textarea, button"), "nothing to edit").toBeNull();
  });

  it("edits, colours and deletes a note, through React Flow into the editor's state", async () => {
    const notes = notesOf({ notes: [{ id: "note_1", text: "why", position: { x: 10, y: 10 }, width: 200, height: 100, color: "blue" }] });
    await ctx.render(<Canvas flow={[]} notes={notes} />);
    await settle();
    const note = ctx.container.querySelector<HTMLElement>('.react-flow__node[data-id="note:note_1"]')!;
    expect(note.querySelector('[role="group"]')?.getAttribute("aria-label")).toBe("Sticky note");
    expect(note.querySelector(".react-flow__handle"), "a note has no handles").toBeNull();
    const text = note.querySelector("textarea")!;
    expect(ctx.container.querySelector(`label[for="${text.id}"]`)?.textContent).toBe("Note text");
    expect(text.value).toBe("why");

    await act(async () => {
      Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value")!.set!.call(text, "why: the CRM rate-limits");
      text.dispatchEvent(new Event("input", { bubbles: true }));
    });
    expect(shown.notes[0].data.note.text).toBe("why: the CRM rate-limits");

    const pink = note.querySelector<HTMLButtonElement>('button[aria-label="Colour pink"]')!;
    expect(note.querySelector('button[aria-label="Colour blue"]')?.getAttribute("aria-pressed")).toBe("true");
    await act(async () => pink.click());
    expect(shown.notes[0].data.note.color).toBe("pink");
    expect(note.querySelector(".note")?.getAttribute("data-color")).toBe("pink");

    await act(async () => note.querySelector<HTMLButtonElement>('button[aria-label="Delete note"]')!.click());
    await settle();
    expect(shown.notes).toEqual([]);
    expect(ctx.container.querySelector(".note")).toBeNull();
  });
});
