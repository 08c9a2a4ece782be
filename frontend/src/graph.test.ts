import { describe, expect, it } from "vitest";
import type { FlowDocument, NodeType, Run, Step } from "./api";
import {
  edgeItems,
  fromCanvas,
  itemCount,
  layout,
  newNodeId,
  newNote,
  nodeItems,
  nodeStatus,
  notesOf,
  portsOf,
  splitNoteChanges,
  stepsByNode,
  toCanvas,
  withCounts,
} from "./graph";
import { exportable } from "./FlowsPage";

const kind = (k: string, extra: Partial<NodeType> = {}): NodeType => ({
  kind: k, category: "flow", title: k, summary: "", icon: "box", fields: [], ports: [], pure: true, schema: {}, ...extra,
});
const types = [
  kind("trigger.webhook", { category: "trigger" }),
  kind("if", { ports: ["true", "false"] }),
  kind("switch", { ports: ["default"], ports_from: "cases" }),
  kind("transform", { category: "data" }),
];

describe("graph", () => {
  it("lists a node's ports: the kind's, a switch's cases, and error when routed", () => {
    expect(portsOf({ id: "a", type: "transform" }, types[3])).toEqual([]);
    expect(portsOf({ id: "a", type: "if" }, types[1])).toEqual(["true", "false"]);
    expect(portsOf({ id: "s", type: "switch", params: { cases: [{ port: "big" }, { port: "gold" }] } }, types[2])).toEqual(["default", "big", "gold"]);
    expect(portsOf({ id: "a", type: "transform", on_error: "route" }, types[3])).toEqual(["error"]);
  });

  it("round-trips a flow through the canvas, keeping positions and ports", () => {
    const doc: FlowDocument = {
      name: "f",
      nodes: [
        { id: "hook", type: "trigger.webhook", ui: { x: 10, y: 20 } },
        { id: "big", type: "if", params: { condition: "input.usd > 100" } },
        { id: "shape", type: "transform", params: { fields: { a: "1" } }, retry: { max_attempts: 3 } },
      ],
      edges: [
        { from: "hook", to: "big" },
        { from: "big", to: "shape", port: "true" },
      ],
    };
    const canvas = toCanvas(doc, types, [{ node: "big", field: "params.condition", message: "bad" }]);
    expect(canvas.nodes.map((n) => n.position)).toEqual([{ x: 10, y: 20 }, { x: 300, y: 0 }, { x: 600, y: 0 }]);
    expect(canvas.nodes[1].data.problems).toHaveLength(1);
    expect(canvas.edges[1]).toMatchObject({ source: "big", target: "shape", sourceHandle: "true", label: "true" });

    const back = fromCanvas("f", canvas.nodes, canvas.edges);
    expect(back).not.toHaveProperty("settings");
    expect(fromCanvas("f", canvas.nodes, canvas.edges, {}), "no settings: none written").not.toHaveProperty("settings");
    expect(fromCanvas("f", canvas.nodes, canvas.edges, { concurrency: 2 }).settings).toEqual({ concurrency: 2 });
    expect(back.edges).toEqual(doc.edges);
    expect(back.nodes[2]).toEqual({ ...doc.nodes[2], ui: { x: 600, y: 0 } });
    expect(back.nodes[0].ui).toEqual({ x: 10, y: 20 });
  });

  it("names new nodes after their kind, without clashes", () => {
    expect(newNodeId("transform", [])).toBe("transform");
    expect(newNodeId("transform", ["transform", "transform_2"])).toBe("transform_3");
    expect(newNodeId("http.request", [])).toBe("http_request");
    expect(newNodeId("trigger.webhook", [])).toBe("webhook");
  });
});

describe("layout", () => {
  it("puts each node one column after its furthest input, and stacks a column", () => {
    const doc: FlowDocument = {
      name: "f",
      nodes: [
        { id: "done", type: "transform", ui: { x: 999, y: 999 } },
        { id: "hook", type: "trigger.webhook" },
        { id: "a", type: "transform" },
        { id: "b", type: "transform" },
      ],
      edges: [
        { from: "hook", to: "a" },
        { from: "hook", to: "b" },
        { from: "a", to: "done" },
        { from: "b", to: "done" },
      ],
    };
    const { nodes, edges } = toCanvas(doc, types);
    const placed = Object.fromEntries(layout(nodes, edges).map((n) => [n.id, n.position]));
    expect(placed).toEqual({ hook: { x: 0, y: 0 }, a: { x: 300, y: 0 }, b: { x: 300, y: 140 }, done: { x: 600, y: 0 } });
  });

  it("exports a flow with its settings, and without the server's fields", () => {
    const flow = { id: "f1", version: 3, active: true, name: "f", settings: { concurrency: 2 }, nodes: [], edges: [] };
    expect(exportable(flow)).toEqual({ name: "f", settings: { concurrency: 2 }, nodes: [], edges: [] });
    expect(exportable({ name: "g", nodes: [], edges: [] })).not.toHaveProperty("settings");
    const ui = { notes: [{ id: "note_1", text: "why", position: { x: 0, y: 0 } }] };
    expect(exportable({ ...flow, ui })).toEqual({ name: "f", settings: { concurrency: 2 }, nodes: [], edges: [], ui });
    expect(exportable({ name: "g", nodes: [], edges: [] })).not.toHaveProperty("ui");
  });
});

describe("notes", () => {
  const notes = [
    { id: "note_1", text: "why", position: { x: 240, y: -160 }, width: 240, height: 120, color: "yellow" as const, pinnedBy: "ada" },
    { id: "n2", text: "", position: { x: 0, y: 0 } },
  ];
  const doc: FlowDocument = {
    name: "f",
    nodes: [{ id: "hook", type: "trigger.webhook", ui: { x: 0, y: 0 } }],
    edges: [],
    ui: { zoom: 2, notes },
  };

  it("round-trips the flow's notes through the canvas, keeping ui's other keys", () => {
    const { nodes, edges } = toCanvas(doc, types);
    const drawn = notesOf(doc.ui);
    expect(drawn.map((n) => n.id)).toEqual(["note:note_1", "note:n2"]);
    expect(drawn[0]).toMatchObject({ type: "note", position: { x: 240, y: -160 }, width: 240, height: 120, connectable: false });
    const back = fromCanvas("f", [...nodes, ...drawn], edges, undefined, doc.ui);
    expect(back.ui).toEqual({ zoom: 2, notes });
    expect(back.nodes.map((n) => n.id), "notes are no flow nodes").toEqual(["hook"]);
    expect(back.edges).toEqual([]);
  });

  it("writes where a note was moved and resized to, and drops ui when nothing is left", () => {
    const [moved] = notesOf(doc.ui);
    const back = fromCanvas("f", [{ ...moved, position: { x: 10.4, y: 20.6 }, width: 300.2, height: 99 }], [], undefined, doc.ui);
    expect(back.ui?.notes).toEqual([{ ...notes[0], position: { x: 10, y: 21 }, width: 300, height: 99 }]);
    expect(fromCanvas("f", [], [], undefined, { notes }), "the last note deleted").not.toHaveProperty("ui");
    expect(fromCanvas("f", [], [], undefined, doc.ui).ui).toEqual({ zoom: 2 });
    expect(fromCanvas("f", [], []), "no ui: none written").not.toHaveProperty("ui");
  });

  it("adds a note centred where asked, with an id of its own", () => {
    const taken = notesOf({ notes: [{ id: "note", text: "", position: { x: 0, y: 0 } }] });
    const added = newNote({ x: 500, y: 300 }, taken);
    expect(added.id).toBe("note:note_2");
    expect(added.position).toEqual({ x: 380, y: 240 });
    expect(fromCanvas("f", [added], [], undefined, {}).ui?.notes).toEqual([
      { id: "note_2", text: "", position: { x: 380, y: 240 }, width: 240, height: 120, color: "yellow" },
    ]);
  });

  it("sends the notes' changes apart from the flow nodes'", () => {
    const [flow, note] = splitNoteChanges([
      { type: "position", id: "hook", position: { x: 1, y: 1 } },
      { type: "remove", id: "note:n2" },
      { type: "replace", id: "note:note_1", item: notesOf(doc.ui)[0] },
      { type: "select", id: "note", selected: true },
    ]);
    expect(flow.map((c) => c.type)).toEqual(["position", "select"]);
    expect(note.map((c) => c.type)).toEqual(["remove", "replace"]);
  });
});

describe("counts", () => {
  let seq = 0;
  const step = (node_id: string, extra: Partial<Step> = {}): Step => ({
    node_id, attempt: 1, status: "succeeded", port: "", duration_ms: 1, logs: [], started_at: `2024-01-01T00:00:0${seq++ % 10}Z`, ...extra,
  });
  const flow: FlowDocument = {
    name: "loop",
    nodes: [
      { id: "hook", type: "trigger.webhook" },
      { id: "each", type: "foreach" },
      { id: "shape", type: "transform" },
      { id: "big", type: "if" },
      { id: "after", type: "transform" },
    ],
    edges: [
      { from: "hook", to: "each" },
      { from: "each", to: "shape", port: "each" },
      { from: "shape", to: "big" },
      { from: "each", to: "after", port: "done" },
      { from: "big", to: "after", port: "true" },
    ],
  };
  const run = {
    steps: [
      step("hook", { output: { body: { items: [1, 2, 3] } } }),
      step("shape", { iteration: "0", output: { n: 1 } }),
      step("big", { iteration: "0", port: "true", output: { n: 1 } }),
      step("shape", { iteration: "1", status: "failed", port: null }),
      step("shape", { iteration: "1", attempt: 2, output: [{ n: 2 }, { n: 2 }] }),
      step("big", { iteration: "1", port: "false", output: { n: 2 } }),
      step("shape", { iteration: "2", output: { n: 3 } }),
      step("big", { iteration: "2", port: "true", output: { n: 3 } }),
      step("each", { port: "done", output: [{ n: 1 }, { n: 2 }, { n: 3 }] }),
      step("after", { attempt: 0, status: "skipped", port: null }),
    ],
  } as Run;

  it("counts a node's items: a list's elements, an object as one, over its iterations and last attempts", () => {
    expect(itemCount([1, 2])).toBe(2);
    expect(itemCount({ a: 1 })).toBe(1);
    expect(itemCount(null)).toBe(1);
    expect(itemCount(undefined)).toBeUndefined();
    expect(itemCount({ $truncated: true, bytes: 9, preview: "" }), "cut short: not known").toBeUndefined();
    const steps = stepsByNode(run);
    expect(nodeItems(steps.get("hook")!)).toBe(1);
    expect(nodeItems(steps.get("shape")!), "1 + 2 (its retry's list) + 1").toBe(4);
    expect(nodeItems(steps.get("each")!), "one per iteration").toBe(3);
    expect(nodeItems(steps.get("after")!)).toBeUndefined();
  });

  it("sums a node's status up over its iterations", () => {
    const steps = stepsByNode(run);
    expect(nodeStatus(steps.get("shape")!), "the failed attempt was retried").toBe("succeeded");
    expect(nodeStatus(steps.get("after")!)).toBe("skipped");
    expect(nodeStatus([step("x", { iteration: "0" }), step("x", { iteration: "1", status: "failed" })])).toBe("failed");
    expect(nodeStatus([step("x", { status: "running" })])).toBe("running");
    expect(nodeStatus([step("x", { status: "running", resume_at: "2024-01-01T00:01:00Z" })])).toBe("waiting");
    expect(nodeStatus([])).toBeUndefined();
  });

  it("counts the items along each edge: by the port taken, a foreach's each by its iterations", () => {
    const { nodes, edges } = toCanvas(flow, types);
    expect(Object.fromEntries(edgeItems(run, nodes, edges))).toEqual({
      "hook:->each": 1,
      "each:each->shape": 3,
      "shape:->big": 4,
      "each:done->after": 3,
      "big:true->after": 2,
    });
    const counted = withCounts(run, nodes, edges);
    expect(counted[2].data).toEqual({ items: 4 });
    const named = Object.fromEntries(counted.map((e) => [e.id, e.ariaLabel]));
    expect(named["shape:->big"], "screen readers hear the count").toBe("Edge from shape to big: 4 items");
    expect(named["big:true->after"], "and the port").toBe("Edge from big (true) to after: 2 items");
    expect(withCounts(null, nodes, counted)[2].data, "no run: no counts").toEqual({ items: undefined });
    expect(withCounts(null, nodes, counted)[2].ariaLabel).toBeUndefined();
  });
});
