import type { Step } from "./api";
import { DataView } from "./DataView";
import { PageLink } from "./PageLink";

/** when shows a time in the reader's locale; a dash for none. */
export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** duration shows milliseconds readably; a dash for none. */
export function duration(ms: number | null | undefined): string {
  if (ms == null) return "—";
  return ms < 1000 ? `${ms.toFixed(ms < 10 ? 2 : 0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** StepView shows one attempt of a step: status, port, duration, error,
 * the run it called, output and input (in data views, whose fields drag
 * into parameter fields), and log. outputLabel names its output for
 * assistive technology (and tests): "Output of <node>" by default. onOpenRun
 * follows the link to a called run; without it the link loads the page. */
export function StepView({
  step,
  outputLabel = "Output",
  onOpenRun,
}: {
  step: Step;
  outputLabel?: string;
  onOpenRun?: (id: string) => void;
}) {
  const name = step.iteration ? `${step.node_id}[${step.iteration}]` : step.node_id;
  return (
    <li className="step" data-step={step.node_id}>
      <div>
        <strong>{name}</strong> <span data-status={step.status}>{step.status}</span>
        {step.attempt > 1 && <small> attempt {step.attempt}</small>}
        {step.port && <small> → {step.port}</small>}
        <small> · {duration(step.duration_ms)}</small>
      </div>
      {step.child_run_id && (
        <p className="help">
          Called run{" "}
          <PageLink
            to={`/runs/${step.child_run_id}`}
            onGo={() => (onOpenRun ? onOpenRun(step.child_run_id!) : window.location.assign(`/runs/${step.child_run_id}`))}
            className="mono"
          >
            {step.child_run_id.slice(-12)}
          </PageLink>
          {step.status === "running" && " · waiting for it to end"}
        </p>
      )}
      {step.error && <pre className="problem mono">{step.error}</pre>}
      {step.output !== undefined && (
        <details open>
          <summary>Output</summary>
          <DataView value={step.output} path={`steps.${step.node_id}`} label={`${outputLabel} of ${step.node_id}`} />
        </details>
      )}
      {step.input !== undefined && (
        <details>
          <summary>Input</summary>
          <DataView value={step.input} path="input" label={`Input of ${step.node_id}`} />
        </details>
      )}
      {step.logs && step.logs.length > 0 && (
        <details>
          <summary>Log ({step.logs.length})</summary>
          <pre className="mono">{step.logs.map((l) => `${l.time} ${l.level} ${l.msg}${l.attrs ? " " + JSON.stringify(l.attrs) : ""}`).join("\n")}</pre>
        </details>
      )}
    </li>
  );
}
