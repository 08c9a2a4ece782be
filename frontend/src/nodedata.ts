// What the node view knows of the data around one node: the outputs the
// editor has seen (from test runs, or pinned), what reached the node, and
// the loop it sits in. Pure functions, so they are tested without a browser.
import type { FlowNode, NodePin, Run } from "./api";

/** The part of an edge these functions read. */
export type Link = { source: string; target: string; sourceHandle?: string | null };

/** parentsOf lists the nodes with an edge into id, each once, in edge order. */
export function parentsOf(id: string, edges: Link[]): string[] {
  return [...new Set(edges.filter((e) => e.target === id).map((e) => e.source))];
}

/** ancestorsOf is every node upstream of id, nearest first. */
export function ancestorsOf(id: string, edges: Link[]): string[] {
  const seen = new Set<string>();
  const queue = parentsOf(id, edges);
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (seen.has(next) || next === id) continue;
    seen.add(next);
    queue.push(...parentsOf(next, edges));
  }
  return [...seen];
}

/** loopOf is the foreach whose each port leads (directly or through other
 * nodes) to id, the innermost one when loops nest; null outside any loop. */
export function loopOf(id: string, nodes: FlowNode[], edges: Link[]): FlowNode | null {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  // Walk up from the node; the first foreach reached through its each port
  // holds the node in its body.
  const seen = new Set<string>();
  const queue = [id];
  while (queue.length > 0) {
    const at = queue.shift()!;
    if (seen.has(at)) continue;
    seen.add(at);
    for (const e of edges.filter((e) => e.target === at)) {
      const parent = byId.get(e.source);
      if (parent?.type === "foreach" && e.sourceHandle === "each") return parent;
      queue.push(e.source);
    }
  }
  return null;
}

/** A node's output as the editor last saw it. */
export type Known = { output: unknown; port?: string; pinned?: boolean };

/** mergeRun adds a test run's outputs to those already known: each node that
 * ran (outside a loop's iterations) gives its latest output, and nodes that
 * did not run keep what an earlier test gave, so testing one node at a time
 * builds up the data of the whole flow. */
export function mergeRun(known: Record<string, Known>, run: Run | null): Record<string, Known> {
  if (!run) return known;
  const out = { ...known };
  for (const st of run.steps ?? []) {
    if (st.status !== "succeeded" || st.iteration) continue;
    out[st.node_id] = { output: st.output, ...(st.port ? { port: st.port } : {}) };
  }
  return out;
}

/** pinOf is the output pinned on a node, if any. */
export function pinOf(node: FlowNode): NodePin | undefined {
  const ui = node.ui as { pin?: NodePin } | undefined;
  return ui?.pin;
}

/** withPin pins an output on a node, or unpins it when pin is null; the
 * rest of its ui (its place on the canvas) stays. */
export function withPin(node: FlowNode, pin: NodePin | null): FlowNode {
  const { pin: _, ...ui } = (node.ui ?? {}) as { pin?: NodePin } & Record<string, unknown>;
  const next = pin === null ? ui : { ...ui, pin };
  return { ...node, ui: next };
}

/** pinsToTestAlone are the pins a test of only id needs: its parents' known
 * outputs, so it gets the input it would get, and nothing upstream of them
 * runs. A parent with nothing known is left to run. Pins saved on nodes
 * apply anyway; these are for this test only. */
export function pinsToTestAlone(id: string, edges: Link[], known: Record<string, Known>, triggers: Set<string>): Record<string, NodePin> {
  const pins: Record<string, NodePin> = {};
  for (const parent of parentsOf(id, edges)) {
    const k = known[parent];
    if (!k || triggers.has(parent)) continue;
    pins[parent] = { output: k.output, ...(k.port ? { port: k.port } : {}) };
  }
  return pins;
}

/** inputOf is what reached the node: its recorded input when it ran in the
 * last test, else its one parent's known output (a node with several
 * parents, a merge, gets them by id). undefined when nothing is known. */
export function inputOf(id: string, edges: Link[], known: Record<string, Known>, recorded?: unknown): unknown {
  if (recorded !== undefined) return recorded;
  const parents = parentsOf(id, edges).filter((p) => known[p] !== undefined);
  if (parents.length === 0) return undefined;
  if (parents.length === 1) return known[parents[0]].output;
  return Object.fromEntries(parents.map((p) => [p, known[p].output]));
}
