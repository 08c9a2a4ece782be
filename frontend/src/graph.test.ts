import { describe, expect, it } from "vitest";
import type { FlowDocument, NodeType } from "./api";
import { fromCanvas, layout, newNodeId, portsOf, toCanvas } from "./graph";
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
    expect(canvas.nodes.map((n) => n.position)).toEqual([{ x: 10, y: 20 }, { x: 260, y: 0 }, { x: 520, y: 0 }]);
    expect(canvas.nodes[1].data.problems).toHaveLength(1);
    expect(canvas.edges[1]).toMatchObject({ source: "big", target: "shape", sourceHandle: "true", label: "true" });

    const back = fromCanvas("f", canvas.nodes, canvas.edges);
    expect(back).not.toHaveProperty("settings");
    expect(fromCanvas("f", canvas.nodes, canvas.edges, {}), "no settings: none written").not.toHaveProperty("settings");
    expect(fromCanvas("f", canvas.nodes, canvas.edges, { concurrency: 2 }).settings).toEqual({ concurrency: 2 });
    expect(back.edges).toEqual(doc.edges);
    expect(back.nodes[2]).toEqual({ ...doc.nodes[2], ui: { x: 520, y: 0 } });
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
    expect(placed).toEqual({ hook: { x: 0, y: 0 }, a: { x: 260, y: 0 }, b: { x: 260, y: 140 }, done: { x: 520, y: 0 } });
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
