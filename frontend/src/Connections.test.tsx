import { act } from "react";
import { addEdge, type Connection, type Edge } from "@xyflow/react";
import { describe, expect, it } from "vitest";
import { mounted } from "./testing";
import type { FlowNode, NodeType } from "./api";
import { Connections, targetsOf } from "./Connections";
import { edgeId, type CanvasNode } from "./graph";

const kinds: Record<string, NodeType> = {
  "trigger.webhook": { kind: "trigger.webhook", category: "trigger", title: "Webhook", summary: "", icon: "webhook", fields: [], ports: [], pure: false, schema: {} },
  transform: { kind: "transform", category: "data", title: "Transform", summary: "", icon: "shuffle", fields: [], ports: [], pure: true, schema: {} },
  if: { kind: "if", category: "flow", title: "If", summary: "", icon: "git-branch", fields: [], ports: ["true", "false"], pure: true, schema: {} },
};

function canvasNode(node: FlowNode): CanvasNode {
  return { id: node.id, type: "flowNode", position: { x: 0, y: 0 }, data: { node, type: kinds[node.type], problems: [] } };
}

const nodes = [
  canvasNode({ id: "hook", type: "trigger.webhook" }),
  canvasNode({ id: "amount", type: "transform" }),
  canvasNode({ id: "big", type: "if" }),
  canvasNode({ id: "notify", type: "transform" }),
  canvasNode({ id: "save", type: "transform" }),
];

/** What FlowEditor's onConnect does with a connection. */
const connected = (c: Connection, es: Edge[]) => addEdge({ ...c, id: edgeId(c.source, c.target, c.sourceHandle), label: c.sourceHandle || undefined }, es);

function setSelect(el: HTMLSelectElement, value: string) {
  Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, "value")!.set!.call(el, value);
  el.dispatchEvent(new Event("change", { bubbles: true }));
}

describe("Connections", () => {
  const ctx = mounted();

  /** renders the connections of one node, keeping the edges it changes. */
  async function show(nodeId: string, start: Edge[]) {
    const state = { edges: start };
    const draw = () =>
      ctx.render(
        <Connections
          node={nodes.find((n) => n.id === nodeId)!}
          nodes={nodes}
          edges={state.edges}
          onConnect={(c) => {
            state.edges = connected(c, state.edges);
            void draw();
          }}
          onRemove={(id) => {
            state.edges = state.edges.filter((e) => e.id !== id);
            void draw();
          }}
        />,
      );
    await draw();
    return state;
  }

  const edge = (from: string, to: string, port?: string): Edge => ({ id: edgeId(from, to, port), source: from, target: to, sourceHandle: port ?? null, label: port });
  const start = [edge("hook", "amount"), edge("amount", "big"), edge("big", "notify", "true")];
  const listed = (label: string) =>
    [...ctx.container.querySelectorAll<HTMLUListElement>("ul")]
      .find((ul) => document.getElementById(ul.getAttribute("aria-labelledby")!)?.textContent === label)
      ?.querySelectorAll("li code");

  it("lists a node's outgoing connections per port and its incoming ones", async () => {
    await show("big", start);
    expect([...ctx.container.querySelectorAll("h5")].map((h) => h.textContent)).toEqual(["From port true", "From port false", "Incoming"]);
    expect([...listed("From port true")!].map((c) => c.textContent)).toEqual(["notify"]);
    expect(listed("From port false"), "nothing leaves the false port").toBeUndefined();
    expect([...listed("Incoming")!].map((c) => c.textContent)).toEqual(["amount"]);
    const remove = [...ctx.container.querySelectorAll("button")].map((b) => b.getAttribute("aria-label")).filter(Boolean);
    expect(remove).toEqual(["Remove the connection from big (true) to notify", "Remove the connection from amount to big"]);
  });

  it("connects a port to a node with the edge the canvas makes", async () => {
    const state = await show("big", start);
    const port = ctx.container.querySelector<HTMLSelectElement>('select[id$="-port"]')!;
    const target = ctx.container.querySelector<HTMLSelectElement>('select[id$="-target"]')!;
    expect(ctx.container.querySelector(`label[for="${port.id}"]`)?.textContent).toBe("Connect port");
    expect(ctx.container.querySelector(`label[for="${target.id}"]`)?.textContent).toBe("to node");
    // Not itself, not the trigger, not upstream (a cycle), not the true port's notify again.
    expect([...target.options].map((o) => o.value)).toEqual(["", "save"]);

    await act(async () => setSelect(port, "false"));
    expect([...target.options].map((o) => o.value), "the false port may go to notify too").toEqual(["", "notify", "save"]);
    await act(async () => setSelect(target, "save"));
    await act(async () => ctx.container.querySelector("form")!.requestSubmit());
    expect(state.edges.at(-1)).toMatchObject({ id: "big:false->save", source: "big", target: "save", sourceHandle: "false", label: "false" });
    expect([...listed("From port false")!].map((c) => c.textContent)).toEqual(["save"]);
    expect(ctx.container.querySelector("[aria-live]")?.textContent).toBe("Connected big (false) to save.");
  });

  it("connects a node without named ports from its one output", async () => {
    const state = await show("hook", []);
    expect(ctx.container.querySelector('select[id$="-port"]'), "no port to choose").toBeNull();
    const target = ctx.container.querySelector<HTMLSelectElement>('select[id$="-target"]')!;
    expect(ctx.container.querySelector(`label[for="${target.id}"]`)?.textContent).toBe("Connect to node");
    await act(async () => setSelect(target, "amount"));
    await act(async () => ctx.container.querySelector("form")!.requestSubmit());
    expect(state.edges).toHaveLength(1);
    expect(state.edges[0]).toMatchObject({ id: "hook:->amount", source: "hook", target: "amount" });
    expect(state.edges[0].sourceHandle ?? null, "the unnamed output").toBeNull();
  });

  it("removes a connection, and keeps the keyboard in the section", async () => {
    const state = await show("amount", start);
    const button = ctx.container.querySelector<HTMLButtonElement>('button[aria-label="Remove the connection from amount to big"]')!;
    button.focus();
    await act(async () => button.click());
    expect(state.edges.map((e) => e.id)).toEqual(["hook:->amount", "big:true->notify"]);
    expect(listed("From output")).toBeUndefined();
    expect(document.activeElement?.textContent).toBe("Connections");
    expect(ctx.container.querySelector("[aria-live]")?.textContent).toBe("Removed the connection from amount to big.");
  });

  it("lists an edge from a port the node no longer has, so it can be removed", async () => {
    const state = await show("big", [edge("big", "save", "maybe")]);
    expect([...listed("From port maybe (no longer a port of this node)")!].map((c) => c.textContent)).toEqual(["save"]);
    await act(async () => ctx.container.querySelector<HTMLButtonElement>('button[aria-label="Remove the connection from big (maybe) to save"]')!.click());
    expect(state.edges).toEqual([]);
  });

  it("offers no node that would close a cycle", () => {
    const targets = targetsOf(nodes.find((n) => n.id === "notify")!, "", nodes, start);
    expect(targets.map((n) => n.id)).toEqual(["save"]);
  });
});
