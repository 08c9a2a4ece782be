import type { Connection, Edge } from "@xyflow/react";
import { useId, useRef, useState, type FormEvent } from "react";
import { portsOf, type CanvasNode } from "./graph";

/** portName is how a port is shown; a node without named ports has one
 * unnamed output. */
const portName = (port: string) => (port ? `port ${port}` : "output");

/** describe says what an edge connects, for lists and screen readers. */
function describe(e: Edge): string {
  return `${e.source}${e.sourceHandle ? ` (${e.sourceHandle})` : ""} to ${e.target}`;
}

/** targetsOf lists the nodes the port of node may be connected to: not the
 * node itself, not a trigger (it takes no input), not a node the port is
 * already connected to, and not one upstream of node (that would be a
 * cycle, which a flow cannot have). */
export function targetsOf(node: CanvasNode, port: string, nodes: CanvasNode[], edges: Edge[]): CanvasNode[] {
  const upstream = new Set([node.id]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const e of edges) {
      if (upstream.has(e.target) && !upstream.has(e.source)) {
        upstream.add(e.source);
        grew = true;
      }
    }
  }
  const taken = new Set(edges.filter((e) => e.source === node.id && (e.sourceHandle ?? "") === port).map((e) => e.target));
  return nodes.filter((n) => !upstream.has(n.id) && !taken.has(n.id) && n.data.type?.category !== "trigger");
}

// Connections lists a node's connections, outgoing per output port and
// incoming, each with a Remove button, and connects a port to another node
// with a form: what dragging between handles on the canvas does, from the
// keyboard. onConnect is the canvas's own, so both make the same edge.
export function Connections({
  node,
  nodes,
  edges,
  onConnect,
  onRemove,
}: {
  node: CanvasNode;
  nodes: CanvasNode[];
  edges: Edge[];
  onConnect: (c: Connection) => void;
  onRemove: (edgeId: string) => void;
}) {
  const id = useId();
  const own = portsOf(node.data.node, node.data.type);
  const ports = own.length > 0 ? own : [""];
  const [port, setPort] = useState(ports[0]);
  const [target, setTarget] = useState("");
  const [message, setMessage] = useState("");
  const heading = useRef<HTMLHeadingElement>(null);
  // A port can go (a switch case removed, on_error no longer route).
  const from = ports.includes(port) ? port : ports[0];
  const targets = targetsOf(node, from, nodes, edges);
  const outgoing = edges.filter((e) => e.source === node.id);
  const incoming = edges.filter((e) => e.target === node.id);
  // An edge may leave a port the node no longer has: listed, so it can go.
  const gone = [...new Set(outgoing.map((e) => e.sourceHandle ?? ""))].filter((p) => !ports.includes(p));
  const title = (nodeId: string) => {
    const n = nodes.find((m) => m.id === nodeId);
    return n?.data.type?.title ?? n?.data.node.type ?? "";
  };

  function connect(event: FormEvent) {
    event.preventDefault();
    if (!targets.some((n) => n.id === target)) return;
    onConnect({ source: node.id, sourceHandle: from || null, target, targetHandle: null });
    setMessage(`Connected ${node.id}${from ? ` (${from})` : ""} to ${target}.`);
    setTarget("");
  }

  function remove(e: Edge) {
    onRemove(e.id);
    setMessage(`Removed the connection from ${describe(e)}.`);
    // The button is gone with its edge: the keyboard stays in this section.
    heading.current?.focus();
  }

  const item = (e: Edge, other: string) => (
    <li key={e.id}>
      <code>{other}</code> <small className="help">{title(other)}</small>{" "}
      <button type="button" aria-label={`Remove the connection from ${describe(e)}`} onClick={() => remove(e)}>
        Remove
      </button>
    </li>
  );

  return (
    <section className="connections" aria-labelledby={`${id}-title`}>
      <h4 id={`${id}-title`} ref={heading} tabIndex={-1}>
        Connections
      </h4>
      {[...ports, ...gone].map((p) => {
        const list = outgoing.filter((e) => (e.sourceHandle ?? "") === p);
        return (
          <div key={p}>
            <h5 id={`${id}-out-${p}`}>
              From {portName(p)}
              {gone.includes(p) && " (no longer a port of this node)"}
            </h5>
            {list.length === 0 ? (
              <p className="help">Not connected.</p>
            ) : (
              <ul aria-labelledby={`${id}-out-${p}`}>{list.map((e) => item(e, e.target))}</ul>
            )}
          </div>
        );
      })}
      {node.data.type?.category !== "trigger" && (
        <>
          <h5 id={`${id}-in`}>Incoming</h5>
          {incoming.length === 0 ? (
            <p className="help">Nothing connects to {node.id}.</p>
          ) : (
            <ul aria-labelledby={`${id}-in`}>{incoming.map((e) => item(e, e.source))}</ul>
          )}
        </>
      )}
      <form aria-label={`Connect ${node.id}`} onSubmit={connect}>
        {own.length > 0 ? (
          <>
            <label htmlFor={`${id}-port`}>Connect port</label>
            <select id={`${id}-port`} value={from} onChange={(e) => setPort(e.target.value)}>
              {ports.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
            <label htmlFor={`${id}-target`}>to node</label>
          </>
        ) : (
          <label htmlFor={`${id}-target`}>Connect to node</label>
        )}
        <select id={`${id}-target`} value={target} onChange={(e) => setTarget(e.target.value)} required>
          <option value="">{targets.length ? "Choose a node" : "No node to connect to"}</option>
          {targets.map((n) => (
            <option key={n.id} value={n.id}>
              {n.id} ({n.data.type?.title ?? n.data.node.type})
            </option>
          ))}
        </select>
        <button type="submit">Connect</button>
      </form>
      <p className="help" aria-live="polite">
        {message}
      </p>
    </section>
  );
}
