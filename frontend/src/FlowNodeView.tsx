// The node drawn on both canvases, the editor's and a run's. Its own module,
// so the run pages share React Flow with the editor without loading the
// editor's fields (CodeMirror and the rest) along with it.
import { Handle, Position, type NodeProps } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { portsOf, type CanvasNode } from "./graph";
import { duration } from "./StepView";

export const nodeTypes = { flowNode: FlowNodeView };

/** named gives a canvas node the name screen readers announce when it has
 * the focus: its kind and id. */
export function named(n: CanvasNode): CanvasNode {
  return { ...n, ariaLabel: `${n.data.type?.title ?? n.data.node.type} ${n.id}` };
}

function FlowNodeView({ data, selected }: NodeProps<CanvasNode>) {
  const { node, type, problems, steps } = data;
  const ports = portsOf(node, type);
  const isTrigger = type?.category === "trigger";
  const last = steps?.[steps.length - 1];
  return (
    <div
      className={`flow-node${problems.length ? " has-problems" : ""}${selected ? " selected" : ""}`}
      data-node={node.id}
      data-result={last?.status}
    >
      {!isTrigger && <Handle type="target" position={Position.Left} />}
      <strong>{type?.title ?? node.type}</strong>
      <div className="node-id">{node.id}</div>
      {last && (
        <div className="node-result">
          <span data-status={last.status}>{last.status}</span> · {duration(last.duration_ms)}
          {steps!.length > 1 && ` · ${steps!.length} attempts`}
        </div>
      )}
      {problems.map((p, i) => (
        <div key={i} className="problem" role="alert">
          {p.field ? `${p.field}: ` : ""}
          {p.message}
        </div>
      ))}
      {ports.length === 0 ? (
        <Handle type="source" position={Position.Right} />
      ) : (
        ports.map((port, i) => (
          <Handle key={port} id={port} type="source" position={Position.Right} style={{ top: `${((i + 1) * 100) / (ports.length + 1)}%` }}>
            <span className="port-label">{port}</span>
          </Handle>
        ))
      )}
    </div>
  );
}
