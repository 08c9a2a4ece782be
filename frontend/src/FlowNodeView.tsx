// The node drawn on both canvases, the editor's and a run's. Its own module,
// so the run pages share React Flow with the editor without loading the
// editor's fields (CodeMirror and the rest) along with it.
import { BaseEdge, EdgeLabelRenderer, getBezierPath, Handle, Position, useInternalNode, type Edge, type EdgeProps, type NodeProps } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { Pin } from "lucide-react";
import "./canvas.css";
import { items, nodeItems, nodeStatus, portsOf, type CanvasNode } from "./graph";
import { KindIcon } from "./icons";
import { NoteView } from "./NoteView";
import { duration } from "./StepView";

export const nodeTypes = { flowNode: FlowNodeView, note: NoteView };

// Every edge is drawn as React Flow's default, with the items that went
// along it in a run under it.
export const edgeTypes = { default: CountedEdge };

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
  const status = steps && nodeStatus(steps);
  const count = steps && nodeItems(steps);
  return (
    <div
      className={`flow-node${problems.length ? " has-problems" : ""}${selected ? " selected" : ""}`}
      data-node={node.id}
      data-category={type?.category}
      data-result={status}
    >
      {!isTrigger && <Handle type="target" position={Position.Left} />}
      <div className="node-head">
        <KindIcon name={type?.icon} size={18} />
        <strong>{type?.title ?? node.type}</strong>
        {node.ui?.pin !== undefined && (
          <span className="node-pin" role="img" aria-label="Output pinned" title="Output pinned">
            <Pin size={14} aria-hidden="true" />
          </span>
        )}
      </div>
      <div className="node-id">{node.id}</div>
      {last && (
        <div className="node-result">
          <span data-status={status}>{status}</span>
          {count !== undefined && <span className="node-items"> · {items(count, node.type === "foreach" ? "iteration" : "item")}</span>} ·{" "}
          {duration(last.duration_ms)}
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

/** CountedEdge is React Flow's default edge, its label (the port) on the
 * line's middle, with the items of a run just under it; moved right, when
 * the edge is short, past the port names beside the source's handles. */
function CountedEdge(props: EdgeProps<Edge<{ items?: number }>>) {
  const [path, labelX, labelY] = getBezierPath(props);
  const source = useInternalNode<CanvasNode>(props.source);
  const count = props.data?.items;
  const ports = source ? portsOf(source.data.node, source.data.type) : [];
  const left = Math.max(labelX - 24, props.sourceX + portLabelWidth(ports));
  return (
    <>
      <BaseEdge
        id={props.id}
        path={path}
        labelX={labelX}
        labelY={labelY}
        label={props.label}
        labelStyle={props.labelStyle}
        labelShowBg={props.labelShowBg}
        labelBgStyle={props.labelBgStyle}
        labelBgPadding={props.labelBgPadding}
        labelBgBorderRadius={props.labelBgBorderRadius}
        style={props.style}
        markerEnd={props.markerEnd}
        markerStart={props.markerStart}
        interactionWidth={props.interactionWidth}
      />
      {count !== undefined && (
        <EdgeLabelRenderer>
          <div className="edge-items" data-edge={props.id} style={{ transform: `translate(${left}px, ${labelY + (props.label ? 11 : 4)}px)` }}>
            {items(count)}
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

/** portLabelWidth is how far right of a node the names of its ports reach
 * (canvas.css: 10px from the handle, 0.7rem type), with a margin. */
function portLabelWidth(ports: string[]): number {
  return 16 + 7.5 * Math.max(0, ...ports.map((p) => p.length));
}
