// Conversions between a flow document and the canvas's nodes and edges.
// Pure functions, so the editor's rules are tested without a browser.
import type { Edge, Node } from "@xyflow/react";
import type { FlowDocument, FlowNode, FlowSettings, NodeType, Problem, Run, Step } from "./api";

/** What a canvas node carries: the flow node itself, its kind, its problems
 * and, after a test run, its steps in that run. */
export type CanvasData = {
  node: FlowNode;
  type?: NodeType;
  problems: Problem[];
  steps?: Step[];
};

/** stepsByNode groups a run's step records by node, attempts in order. */
export function stepsByNode(run: Run | null): Map<string, Step[]> {
  const out = new Map<string, Step[]>();
  for (const s of run?.steps ?? []) {
    const list = out.get(s.node_id) ?? [];
    list.push(s);
    out.set(s.node_id, list);
  }
  return out;
}

export type CanvasNode = Node<CanvasData, "flowNode">;

const columnWidth = 260;

/** portsOf lists the output ports edges may leave a node from: the kind's
 * own, a switch's cases and default, and error when on_error is route. */
export function portsOf(node: FlowNode, type?: NodeType): string[] {
  const ports = [...(type?.ports ?? [])];
  if (type?.ports_from) {
    const entries = (node.params?.[type.ports_from] as { port?: string }[] | undefined) ?? [];
    for (const e of entries) if (e.port && !ports.includes(e.port)) ports.push(e.port);
  }
  if (node.on_error === "route") ports.push("error");
  return ports;
}

/** toCanvas places each node where the editor left it, or in a column by
 * its order when it has no place yet. */
export function toCanvas(doc: FlowDocument, types: NodeType[], problems: Problem[] = []): { nodes: CanvasNode[]; edges: Edge[] } {
  const byKind = new Map(types.map((t) => [t.kind, t]));
  const nodes: CanvasNode[] = doc.nodes.map((node, i) => {
    const ui = node.ui as { x?: number; y?: number } | undefined;
    return {
      id: node.id,
      type: "flowNode",
      position: { x: ui?.x ?? i * columnWidth, y: ui?.y ?? 0 },
      data: { node, type: byKind.get(node.type), problems: problems.filter((p) => p.node === node.id) },
    };
  });
  const edges: Edge[] = (doc.edges ?? []).map((e) => ({
    id: edgeId(e.from, e.to, e.port),
    source: e.from,
    target: e.to,
    sourceHandle: e.port ?? null,
    label: e.port || undefined,
  }));
  return { nodes, edges };
}

export function edgeId(from: string, to: string, port?: string | null): string {
  return `${from}:${port ?? ""}->${to}`;
}

/** fromCanvas writes the canvas back as a flow document, keeping each
 * node's place in ui, with the flow's settings when it has any. */
export function fromCanvas(name: string, nodes: CanvasNode[], edges: Edge[], settings?: FlowSettings): FlowDocument {
  return {
    name,
    ...(settings && Object.keys(settings).length > 0 ? { settings } : {}),
    nodes: nodes.map((n) => ({ ...n.data.node, ui: { ...(n.data.node.ui ?? {}), x: Math.round(n.position.x), y: Math.round(n.position.y) } })),
    edges: edges.map((e) => ({ from: e.source, to: e.target, ...(e.sourceHandle ? { port: e.sourceHandle } : {}) })),
  };
}

/** newNodeId names a new node after its kind: transform, transform_2 … */
export function newNodeId(kind: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const base = kind.replace(/^trigger\./, "").replace(/[^a-z0-9_]/g, "_");
  if (!used.has(base)) return base;
  for (let i = 2; ; i++) if (!used.has(`${base}_${i}`)) return `${base}_${i}`;
}

/** layout places nodes in columns by their longest distance from a node
 * without inputs, and spreads each column vertically; it keeps their order
 * within a column. */
export function layout(nodes: CanvasNode[], edges: Edge[]): CanvasNode[] {
  const depth = new Map<string, number>(nodes.map((n) => [n.id, 0]));
  // Relax along the edges; a DAG settles within as many passes as it has nodes.
  for (let pass = 0; pass < nodes.length; pass++) {
    let changed = false;
    for (const e of edges) {
      const d = (depth.get(e.source) ?? 0) + 1;
      if (d > (depth.get(e.target) ?? 0)) {
        depth.set(e.target, d);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const rows = new Map<number, number>();
  return nodes.map((n) => {
    const column = depth.get(n.id) ?? 0;
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    return { ...n, position: { x: column * columnWidth, y: row * 140 } };
  });
}
