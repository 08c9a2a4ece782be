// Conversions between a flow document and the canvas's nodes and edges.
// Pure functions, so the editor's rules are tested without a browser.
import type { Edge, Node, NodeChange } from "@xyflow/react";
import type { FlowDocument, FlowNode, FlowNote, FlowSettings, FlowUI, NodeType, Problem, Run, Step } from "./api";

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

/** The room a column of the canvas takes: a node, and beside it the space
 * an edge needs for its port's name and its items after a run. */
export const columnWidth = 300;

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
 * node's place in ui, with the flow's settings when it has any, and its
 * ui (the editor's other keys kept) with the canvas's sticky notes. */
export function fromCanvas(name: string, drawn: (CanvasNode | NoteNode)[], edges: Edge[], settings?: FlowSettings, ui?: FlowUI): FlowDocument {
  const nodes = drawn.filter((n): n is CanvasNode => !isNote(n));
  const flowUI = uiOf(ui, drawn.filter(isNote));
  return {
    name,
    ...(settings && Object.keys(settings).length > 0 ? { settings } : {}),
    ...(flowUI ? { ui: flowUI } : {}),
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

/** A sticky note's canvas node: its id is the note's, prefixed, so it never
 * collides with a flow node's id (those cannot hold a colon). */
export type NoteData = { note: FlowNote; readOnly?: boolean };
export type NoteNode = Node<NoteData, "note">;
export const notePrefix = "note:";

// Notes lie under the flow's nodes, as on paper: a note dropped where a
// node is leaves the node in sight.
const noteLayer = -1;

/** The colours a note may have, as the server checks them. */
export const noteColors = ["yellow", "blue", "green", "pink", "gray"] as const satisfies readonly NonNullable<FlowNote["color"]>[];

export function isNote(n: Node): n is NoteNode {
  return n.type === "note";
}

/** notesOf draws the flow's sticky notes (its ui.notes) as canvas nodes. */
export function notesOf(ui?: FlowUI): NoteNode[] {
  return (ui?.notes ?? []).map((note) => ({
    id: notePrefix + note.id,
    type: "note",
    position: note.position,
    ...(note.width === undefined ? {} : { width: note.width }),
    ...(note.height === undefined ? {} : { height: note.height }),
    zIndex: noteLayer,
    connectable: false,
    data: { note },
  }));
}

/** readOnlyNotes draws the notes for a canvas that only shows a flow (a
 * run's): they cannot be moved, chosen or edited. */
export function readOnlyNotes(ui?: FlowUI): NoteNode[] {
  return notesOf(ui).map((n) => ({ ...n, draggable: false, selectable: false, focusable: false, data: { ...n.data, readOnly: true } }));
}

/** newNote makes a note centred on a place, with an id no other note has. */
export function newNote(at: { x: number; y: number }, notes: NoteNode[]): NoteNode {
  const id = newNodeId("note", notes.map((n) => n.data.note.id));
  const [width, height] = [240, 120];
  const position = { x: Math.round(at.x - width / 2), y: Math.round(at.y - height / 2) };
  return {
    id: notePrefix + id,
    type: "note",
    position,
    width,
    height,
    zIndex: noteLayer,
    connectable: false,
    selected: true,
    data: { note: { id, text: "", position, width, height, color: "yellow" } },
  };
}

/** uiOf gives the flow's ui with the canvas's notes in it, keeping the
 * editor's other keys; undefined when nothing is left to keep. */
export function uiOf(ui: FlowUI | undefined, notes: NoteNode[]): FlowUI | undefined {
  const { notes: _, ...rest } = ui ?? {};
  const written = notes.map(({ data, position, width, height }) => {
    const w = width ?? data.note.width;
    const h = height ?? data.note.height;
    return {
      ...data.note,
      position: { x: Math.round(position.x), y: Math.round(position.y) },
      ...(w === undefined ? {} : { width: Math.round(w) }),
      ...(h === undefined ? {} : { height: Math.round(h) }),
    };
  });
  const out: FlowUI = written.length > 0 ? { ...rest, notes: written } : rest;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** splitNoteChanges parts React Flow's node changes into the flow nodes'
 * and the notes', which the editor keeps apart. */
export function splitNoteChanges<F extends Node, N extends Node>(changes: NodeChange<F | N>[]): [NodeChange<F>[], NodeChange<N>[]] {
  const onNote = (c: NodeChange<F | N>) => ("id" in c ? c.id : c.item.id).startsWith(notePrefix);
  return [changes.filter((c) => !onNote(c)) as NodeChange<F>[], changes.filter(onNote) as NodeChange<N>[]];
}

/** A step's status as the canvas shows it: a running step with a time to go
 * on at waits (a delay, a callback, a retry's backoff). */
export type NodeStatus = Step["status"] | "waiting";

/** finalSteps keeps a node's last attempt in each iteration (one in all,
 * outside loops): what it came to, retries aside. */
function finalSteps(steps: Step[]): Step[] {
  const last = new Map<string, Step>();
  for (const s of steps) last.set(s.iteration ?? "", s);
  return [...last.values()];
}

/** nodeStatus sums up a node's steps in a run: running or waiting while any
 * iteration is, else failed if any failed, skipped if all were. */
export function nodeStatus(steps: Step[]): NodeStatus | undefined {
  const final = finalSteps(steps);
  if (final.length === 0) return undefined;
  const running = final.find((s) => s.status === "running");
  if (running) return running.resume_at ? "waiting" : "running";
  if (final.some((s) => s.status === "failed")) return "failed";
  return final.every((s) => s.status === "skipped") ? "skipped" : "succeeded";
}

/** itemCount is how many items an output holds: a list's elements, else
 * one; undefined when none came, or when it was cut short in the answer. */
export function itemCount(output: unknown): number | undefined {
  if (output === undefined) return undefined;
  if (Array.isArray(output)) return output.length;
  if (output !== null && typeof output === "object" && "$truncated" in output) return undefined;
  return 1;
}

/** nodeItems counts the items a node put out in a run, over its loop
 * iterations; undefined when it put out none (skipped, failed, running). */
export function nodeItems(steps: Step[]): number | undefined {
  return sum(finalSteps(steps).filter((s) => s.status === "succeeded").map((s) => itemCount(s.output)));
}

function sum(counts: (number | undefined)[]): number | undefined {
  const known = counts.filter((c) => c !== undefined);
  return known.length === 0 ? undefined : known.reduce((a, b) => a + b, 0);
}

/** portTaken is the port a node's steps record for items sent along an
 * edge's port: a foreach sends one element along each per iteration, and
 * records done, with the list of the iterations' outputs. */
function portTaken(kind: string | undefined, port: string): string {
  return kind === "foreach" && port === "each" ? "done" : port;
}

/** edgeItems counts, for each edge, the items that went along it in a run:
 * the outputs of the steps of its source that took its port. */
export function edgeItems(run: Run | null, nodes: CanvasNode[], edges: Edge[]): Map<string, number> {
  const steps = stepsByNode(run);
  const kinds = new Map(nodes.map((n) => [n.id, n.data.node.type]));
  const out = new Map<string, number>();
  for (const e of edges) {
    const port = portTaken(kinds.get(e.source), e.sourceHandle ?? "");
    const taken = finalSteps(steps.get(e.source) ?? []).filter((s) => s.port === port);
    const n = sum(taken.map((s) => itemCount(s.output)));
    if (n !== undefined) out.set(e.id, n);
  }
  return out;
}

/** withCounts labels each edge with the items that went along it in a run
 * (data.items, drawn by the canvas's edge), or clears them without a run. */
export function withCounts(run: Run | null, nodes: CanvasNode[], edges: Edge[]): Edge[] {
  const counts = edgeItems(run, nodes, edges);
  return edges.map((e) => {
    const n = counts.get(e.id);
    // The count is drawn on the edge; screen readers hear it in its name.
    const port = e.sourceHandle ? ` (${e.sourceHandle})` : "";
    const ariaLabel = n === undefined ? undefined : `Edge from ${e.source}${port} to ${e.target}: ${items(n)}`;
    return { ...e, ariaLabel, data: { ...e.data, items: n } };
  });
}

/** items says a count of items as the canvas shows it. */
export function items(n: number, unit = "item"): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}
