// The node view: what one node gets, its parameters, and what it gives,
// side by side, so a user maps data by dragging fields from the input into
// the form and sees at once what the node made of it.
import { useEffect, useRef, useState, type KeyboardEvent as ReactKeyboardEvent, type PointerEvent as ReactPointerEvent, type ReactNode } from "react";
import type { NodePin, Step } from "./api";
import { JSONField } from "./CodeField";
import { DataView } from "./DataView";
import { StepView } from "./StepView";

/** One source of data the node can read: an upstream node's output, the
 * trigger's data, the node's own recorded input, or a loop's element. */
export type InputSource = { key: string; title: string; path: string; value: unknown };

/** The node's output as last seen: from a test, or pinned. */
export type ShownOutput = { value: unknown; port?: string; pinned: boolean };

const paneKey = "hookflow.nodeView.panes";
const widthKey = "hookflow.nodeView.width";
const minPane = 160;

/** stored reads a number list kept in localStorage, or the fallback. */
function stored(key: string, fallback: number[]): number[] {
  try {
    const v = JSON.parse(localStorage.getItem(key) ?? "null");
    return Array.isArray(v) && v.length === fallback.length && v.every((n) => typeof n === "number" && n > 0) ? v : fallback;
  } catch {
    return fallback;
  }
}

/** Separator resizes what is beside it, by pointer or by arrow keys; it is
 * a focusable separator so keyboard users can resize too. */
export function Separator({ label, value, min, max, onMove }: { label: string; value: number; min: number; max: number; onMove: (delta: number) => void }) {
  const last = useRef<number | null>(null);
  function down(e: ReactPointerEvent<HTMLDivElement>) {
    last.current = e.clientX;
    e.currentTarget.setPointerCapture(e.pointerId);
  }
  function move(e: ReactPointerEvent<HTMLDivElement>) {
    if (last.current === null) return;
    onMove(e.clientX - last.current);
    last.current = e.clientX;
  }
  function key(e: ReactKeyboardEvent<HTMLDivElement>) {
    const step = e.shiftKey ? 64 : 16;
    if (e.key === "ArrowLeft") onMove(-step);
    else if (e.key === "ArrowRight") onMove(step);
    else return;
    e.preventDefault();
  }
  return (
    <div
      className="separator"
      role="separator"
      aria-orientation="vertical"
      aria-label={label}
      aria-valuenow={Math.round(value)}
      aria-valuemin={Math.round(min)}
      aria-valuemax={Math.round(max)}
      tabIndex={0}
      onPointerDown={down}
      onPointerMove={move}
      onPointerUp={() => (last.current = null)}
      onKeyDown={key}
    />
  );
}

export function NodeView({
  nodeId,
  title,
  inputs,
  output,
  steps,
  pinDenied,
  testDenied,
  onPin,
  onTest,
  onClose,
  children,
}: {
  nodeId: string;
  /** The node's kind, as the palette names it. */
  title: string;
  /** What the node reads, nearest first; the first is shown open. */
  inputs: InputSource[];
  output?: ShownOutput;
  /** The node's attempts in the last test. */
  steps?: Step[];
  /** Why the output cannot be pinned (a trigger, a loop), if so. */
  pinDenied?: string;
  /** Why the user may not test, if so. */
  testDenied?: string;
  onPin: (pin: NodePin | null) => void;
  /** Tests up to this node, or (alone) this node only with its parents' known outputs. */
  onTest: (alone: boolean) => void;
  onClose: () => void;
  /** The parameters pane: the node's form and connections. */
  children: ReactNode;
}) {
  const [width, setWidth] = useState(() => stored(widthKey, [Math.round(window.innerWidth * 0.55)])[0]);
  const [panes, setPanes] = useState(() => stored(paneKey, [0.28, 0.44, 0.28]));
  const [wide, setWide] = useState(false);
  const [editing, setEditing] = useState<unknown>(undefined);
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => localStorage.setItem(widthKey, JSON.stringify([width])), [width]);
  useEffect(() => localStorage.setItem(paneKey, JSON.stringify(panes)), [panes]);

  const maxWidth = Math.max(480, window.innerWidth - 320);
  const inner = () => root.current?.querySelector(".node-view-panes")?.clientWidth ?? width;
  // resize moves the border between pane i and pane i+1 by delta pixels,
  // keeping every pane at least minPane wide.
  function resize(i: number, delta: number) {
    setPanes((p) => {
      const total = inner();
      const px = p.map((f) => f * total);
      const d = Math.max(minPane - px[i], Math.min(px[i + 1] - minPane, delta));
      px[i] += d;
      px[i + 1] -= d;
      return px.map((v) => v / total);
    });
  }

  // Escape closes the view, unless a field or a menu inside takes it first.
  function key(e: ReactKeyboardEvent<HTMLDivElement>) {
    if (e.key !== "Escape" || e.defaultPrevented) return;
    if ((e.target as HTMLElement).closest(".cm-editor, select")) return;
    e.preventDefault();
    onClose();
  }

  const last = steps?.at(-1);
  const pinned = output?.pinned ?? false;
  return (
    <div
      ref={root}
      className={`node-view${wide ? " wide" : ""}`}
      style={wide ? undefined : { width }}
      role="region"
      aria-label={`Node view ${nodeId}`}
      onKeyDown={key}
    >
      {!wide && <Separator label="Resize the node view" value={width} min={480} max={maxWidth} onMove={(d) => setWidth((w) => Math.max(480, Math.min(maxWidth, w - d)))} />}
      <div className="node-view-main">
        <div className="node-view-bar">
          <h3>
            {nodeId} <small>{title}</small>
          </h3>
          <button type="button" onClick={() => onTest(false)} disabled={!!testDenied} title={testDenied || "Runs the flow up to this node; the nodes after it are skipped."}>
            Test up to here
          </button>
          <button
            type="button"
            onClick={() => onTest(true)}
            disabled={!!testDenied}
            title={testDenied || "Runs only this node, with its input from the outputs already seen upstream (or pinned)."}
          >
            Test this node
          </button>
          <button type="button" onClick={() => setWide(!wide)} aria-pressed={wide}>
            {wide ? "Beside the canvas" : "Widen"}
          </button>
          <button type="button" onClick={onClose} title="Escape">
            Close
          </button>
        </div>
        <div className="node-view-panes">
          <section className="pane" aria-label={`Input of ${nodeId}`} style={{ flexBasis: `${panes[0] * 100}%` }}>
            <h4>Input</h4>
            {inputs.length === 0 ? (
              <p className="help">No data reaches this node yet. Capture a request or test the flow, and what each node upstream gave shows here, ready to drag into the fields.</p>
            ) : (
              inputs.map((src, i) => (
                <details key={src.key} open={i === 0} className="input-source">
                  <summary>
                    {src.title} <code>{src.path}</code>
                  </summary>
                  <DataView value={src.value} path={src.path} label={`${src.title} (${src.path})`} />
                </details>
              ))
            )}
          </section>
          <Separator label="Resize the input pane" value={panes[0] * 100} min={0} max={100} onMove={(d) => resize(0, d)} />
          <section className="pane pane-params" aria-label={`Parameters of ${nodeId}`} style={{ flexBasis: `${panes[1] * 100}%` }}>
            {children}
          </section>
          <Separator label="Resize the output pane" value={panes[1] * 100} min={0} max={100} onMove={(d) => resize(1, d)} />
          <section className="pane" aria-label={`Output of ${nodeId}`} style={{ flexBasis: `${panes[2] * 100}%` }}>
            <h4>
              Output {output?.port && <small>→ {output.port}</small>}{" "}
              {pinned && (
                <span className="pinned-badge" title="Tests use this output instead of running the node; active runs always run it.">
                  Pinned
                </span>
              )}
            </h4>
            {last && !pinned && (
              <p className="help">
                Last test: <span data-status={last.status}>{last.status}</span>
                {last.error && <span className="problem"> · {last.error}</span>}
              </p>
            )}
            <div className="pin-actions">
              {pinned ? (
                <button type="button" onClick={() => onPin(null)}>
                  Unpin
                </button>
              ) : (
                <button
                  type="button"
                  disabled={!!pinDenied || output === undefined}
                  title={pinDenied || (output === undefined ? "Test the node first, or write an output by hand." : "Tests use this output instead of running the node.")}
                  onClick={() => output && onPin({ output: output.value, ...(output.port ? { port: output.port } : {}) })}
                >
                  Pin this output
                </button>
              )}
              <button type="button" disabled={!!pinDenied} title={pinDenied || undefined} onClick={() => setEditing(editing === undefined ? (output?.value ?? {}) : undefined)}>
                {editing === undefined ? (pinned ? "Edit the pinned output" : "Write an output to pin") : "Cancel"}
              </button>
            </div>
            {editing !== undefined && (
              <div className="pin-edit">
                <JSONField id={`pin-${nodeId}`} label="Output to pin (JSON)" value={editing} onChange={setEditing} />
                <button
                  type="button"
                  onClick={() => {
                    onPin({ output: editing, ...(output?.port ? { port: output.port } : {}) });
                    setEditing(undefined);
                  }}
                >
                  Pin
                </button>
              </div>
            )}
            {output === undefined ? (
              <p className="help">Nothing yet. Test up to here, or test this node alone, to see what it gives.</p>
            ) : (
              <DataView value={output.value} path={`steps.${nodeId}`} label={`Test output of ${nodeId}`} />
            )}
            {steps && steps.length > 0 && (
              <details className="step-details">
                <summary>Log of the last test</summary>
                <ol className="steps">
                  {steps.map((s, i) => (
                    <StepView key={i} step={s} />
                  ))}
                </ol>
              </details>
            )}
          </section>
        </div>
      </div>
    </div>
  );
}
