import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Background, Controls, ReactFlow, type NodeChange } from "@xyflow/react";
import { errorMessage, type Client, type Delivery, type DeliveryFilter, type Run, type RunStatus, type Step } from "./api";
import { duration, StepView, when } from "./StepView";
import { PageLink } from "./PageLink";
import { edgeTypes, nodeTypes } from "./FlowNodeView";
import { nodeStatus, readOnlyNotes, stepsByNode, toCanvas, withCounts, type CanvasNode } from "./graph";
import { useAccess } from "./access";

const statuses: RunStatus[] = ["queued", "running", "succeeded", "failed", "canceled"];
const live = (r: Run) => r.status === "queued" || r.status === "running";

/** utc turns a datetime-local value, the reader's local time, into an
 * RFC 3339 time in UTC; undefined when there is none (or only part of one). */
export function utc(local: string): string | undefined {
  if (!local) return undefined;
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

/** What a list of runs or deliveries is narrowed to; "" for any. from and
 * to are datetime-local values, the reader's local time. The page's URL
 * holds them (?flow=&status=&from=&to=). */
export type ListFilters = {
  flow: string;
  status: string;
  from: string;
  to: string;
};

// RunsPage is the run history: filtered by flow, status and time, newest
// first, a page at a time, refreshed while runs on it are still going.
export function RunsPage({
  client,
  filters,
  onFilters,
  onOpen,
}: {
  client: Client;
  filters: ListFilters;
  onFilters: (f: ListFilters) => void;
  onOpen: (runId: string) => void;
}) {
  const { flow: flowId, from, to } = filters;
  const status = filters.status as RunStatus | "";
  const set = (change: Partial<ListFilters>) => onFilters({ ...filters, ...change });
  const since = utc(from);
  const until = utc(to);
  const flows = useQuery({ queryKey: ["flows"], queryFn: () => client.listFlows() });
  const runs = useInfiniteQuery({
    queryKey: ["runs", flowId, status, since, until],
    queryFn: ({ pageParam }) =>
      client.listRuns({ flow_id: flowId || undefined, status: status || undefined, since, until, cursor: pageParam || undefined }),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor || undefined,
    refetchInterval: (q) => (q.state.data?.pages.some((p) => p.runs.some(live)) ? 2000 : false),
  });
  const list = runs.data?.pages.flatMap((p) => p.runs) ?? [];

  return (
    <section aria-labelledby="runs-title">
      <h2 id="runs-title">Runs</h2>
      <Filter
        what="runs"
        flows={flows.data ?? []}
        flowId={flowId}
        onFlow={(flow) => set({ flow })}
        statuses={statuses}
        status={status}
        onStatus={(status) => set({ status })}
        from={{ value: from, onChange: (from) => set({ from }) }}
        to={{ value: to, onChange: (to) => set({ to }) }}
      />
      {runs.isPending && <p aria-busy="true">Loading runs…</p>}
      {runs.isError && <p role="alert">{runs.error.message}</p>}
      {runs.isSuccess && list.length === 0 && <p>No runs match. Runs appear here when a trigger fires or a flow is tested.</p>}
      {list.length > 0 && (
        <table aria-label="Runs">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Flow</th>
              <th scope="col">Status</th>
              <th scope="col">Trigger</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={r.id}>
                <td>
                  <PageLink to={`/runs/${r.id}`} onGo={() => onOpen(r.id)} className="mono" aria-label={`Open run ${r.id}`}>
                    {r.id.slice(-12)}
                  </PageLink>
                </td>
                <td>
                  <FlowName name={r.flow_name} deleted={r.flow_deleted} /> <small>v{r.flow_version}</small>
                </td>
                <td>
                  <span data-status={r.status}>{r.status}</span>
                </td>
                <td data-trigger={r.trigger.type}>{r.trigger.type}</td>
                <td>{when(r.started_at ?? r.created_at)}</td>
                <td>{duration(r.duration_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {runs.hasNextPage && (
        <button type="button" onClick={() => void runs.fetchNextPage()} disabled={runs.isFetchingNextPage}>
          Older runs
        </button>
      )}
    </section>
  );
}

/** FlowName names a run's or a delivery's flow, saying so when it was
 * deleted (its runs and deliveries are kept). */
function FlowName({ name, deleted }: { name: string; deleted?: boolean }) {
  return deleted ? (
    <span className="deleted" title="This flow was deleted; its runs and deliveries are kept until retention prunes them.">
      {name} <small>(deleted)</small>
    </span>
  ) : (
    <>{name}</>
  );
}

/** A time a filter starts or ends at: a datetime-local value. */
type TimeBound = { value: string; onChange: (value: string) => void };

/** Filter narrows a list by flow and status and, when given from and to, by
 * the time (the reader's local time) it was created at. */
function Filter(props: {
  what: string;
  flows: { id: string; name: string }[];
  flowId: string;
  onFlow: (id: string) => void;
  statuses: string[];
  status: string;
  onStatus: (status: string) => void;
  from?: TimeBound;
  to?: TimeBound;
}) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const time = (bound: TimeBound, name: "from" | "to", label: string) => (
    <>
      <label htmlFor={`${props.what}-${name}`}>{label}</label>
      <input
        id={`${props.what}-${name}`}
        type="datetime-local"
        step={1}
        value={bound.value}
        aria-describedby={`${props.what}-zone`}
        onChange={(e) => bound.onChange(e.target.value)}
      />
    </>
  );
  return (
    <form aria-label={`Filter ${props.what}`} onSubmit={(e) => e.preventDefault()}>
      <label htmlFor={`${props.what}-flow`}>Flow</label>
      <select id={`${props.what}-flow`} value={props.flowId} onChange={(e) => props.onFlow(e.target.value)}>
        <option value="">All flows</option>
        {props.flows.map((f) => (
          <option key={f.id} value={f.id}>
            {f.name}
          </option>
        ))}
      </select>
      <label htmlFor={`${props.what}-status`}>Status</label>
      <select id={`${props.what}-status`} value={props.status} onChange={(e) => props.onStatus(e.target.value)}>
        <option value="">Any status</option>
        {props.statuses.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
      {props.from && time(props.from, "from", "From")}
      {props.to && time(props.to, "to", "To")}
      {(props.from || props.to) && (
        <small className="help" id={`${props.what}-zone`}>
          times in {zone}
        </small>
      )}
    </form>
  );
}

// RunView shows one run: its status and trigger data, and each step's
// attempts with input, output, error and log lines; it replays and cancels.
export function RunView({
  client,
  runId,
  node: chosen,
  onNode: setChosen,
  onOpen,
  onClose,
}: {
  client: Client;
  runId: string;
  /** The node chosen on the canvas (in the URL, ?node=): its steps are the ones listed. */
  node: string | null;
  onNode: (node: string | null) => void;
  onOpen: (runId: string) => void;
  onClose: () => void;
}) {
  const queries = useQueryClient();
  const mayNotRun = useAccess().why("runs:write");
  const run = useQuery({
    queryKey: ["run", runId],
    queryFn: () => client.getRun(runId),
    refetchInterval: (q) => (q.state.data && live(q.state.data) ? 1000 : false),
  });
  const [error, setError] = useState("");
  const replay = useMutation({
    mutationFn: () => client.replayRun(runId),
    onSuccess: (r) => {
      void queries.invalidateQueries({ queryKey: ["runs"] });
      onOpen(r.id);
    },
    onError: (err) => setError(errorMessage(err)),
  });
  const cancel = useMutation({
    mutationFn: () => client.cancelRun(runId),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ["run", runId] }),
    onError: (err) => setError(errorMessage(err)),
  });
  // Escape, anywhere on the page but in a form control, shows every step
  // again. React Flow's own Escape needs the focus on the canvas, which a
  // choice (it changes the address) may take away.
  useEffect(() => {
    if (chosen === null) return;
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (e.key !== "Escape" || e.defaultPrevented || target?.closest("input, textarea, select, [contenteditable=true]")) return;
      setChosen(null);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [chosen, setChosen]);

  if (run.isPending) return <p aria-busy="true">Loading the run…</p>;
  if (run.isError) {
    return (
      <p role="alert">
        {run.error.message} <button onClick={onClose}>Back to runs</button>
      </p>
    );
  }
  const r = run.data;
  return (
    <section aria-label={`Run ${r.id}`}>
      <div className="editor-bar">
        <PageLink to="/runs" onGo={onClose} className="button">
          ← Runs
        </PageLink>
        <h2>
          Run <span className="mono">{r.id.slice(-12)}</span> <span data-status={r.status}>{r.status}</span>
        </h2>
        <button
          type="button"
          onClick={() => replay.mutate()}
          disabled={replay.isPending || r.flow_deleted || !!mayNotRun}
          title={r.flow_deleted ? "The flow was deleted: its runs stay readable but cannot be replayed." : mayNotRun || undefined}
        >
          Replay
        </button>
        {live(r) && (
          <button type="button" onClick={() => cancel.mutate()} disabled={cancel.isPending || !!mayNotRun} title={mayNotRun || undefined}>
            Cancel
          </button>
        )}
      </div>
      {error && <p role="alert">{error}</p>}
      {r.error && <p className="problem">{r.error}</p>}
      <p className="help">
        <FlowName name={r.flow_name} deleted={r.flow_deleted} /> · version {r.flow_version} · {r.trigger.type} · started{" "}
        {when(r.started_at)} · {duration(r.duration_ms)}
        {r.replay_of && (
          <>
            {" "}
            · replay of{" "}
            <PageLink to={`/runs/${r.replay_of}`} onGo={() => onOpen(r.replay_of!)} className="mono">
              {r.replay_of.slice(-12)}
            </PageLink>
          </>
        )}
        {r.parent_run_id && (
          <>
            {" "}
            · called by{" "}
            <PageLink to={`/runs/${r.parent_run_id}`} onGo={() => onOpen(r.parent_run_id!)} className="mono">
              {r.parent_run_id.slice(-12)}
            </PageLink>
          </>
        )}
      </p>
      <RunCanvas client={client} run={r} chosen={chosen} onChoose={setChosen} />
      <details>
        <summary>Trigger data</summary>
        <pre className="mono">{JSON.stringify(r.trigger.data, null, 2)}</pre>
      </details>
      <RunSteps steps={r.steps ?? []} node={chosen} onShowAll={() => setChosen(null)} onOpenRun={onOpen} />
    </section>
  );
}

/** stepsOfNode numbers a run's step records and keeps those of node; all of
 * them when node is null. */
export function stepsOfNode(steps: Step[], node: string | null): { step: Step; index: number }[] {
  return steps.map((step, index) => ({ step, index })).filter(({ step }) => node === null || step.node_id === node);
}

/** RunSteps lists a run's step records: every one, or only the attempts of
 * the node chosen on the canvas, brought into view, with a way back to all. */
export function RunSteps({
  steps,
  node,
  onShowAll,
  onOpenRun,
}: {
  steps: Step[];
  node: string | null;
  onShowAll: () => void;
  onOpenRun?: (id: string) => void;
}) {
  const shown = stepsOfNode(steps, node);
  const section = useRef<HTMLElement>(null);
  useEffect(() => {
    // Scrolls only as far as needed, so the canvas stays in view when it can.
    if (node) section.current?.scrollIntoView?.({ block: "nearest" });
  }, [node]);
  return (
    <section ref={section} className="run-steps" aria-labelledby="run-steps-title">
      <div className="run-steps-bar">
        <h3 id="run-steps-title">
          {node ? (
            <>
              Steps of <code>{node}</code>
            </>
          ) : (
            "Steps"
          )}
        </h3>
        {node && (
          <button type="button" onClick={onShowAll}>
            Show all steps
          </button>
        )}
      </div>
      <p className="help" aria-live="polite">
        {node
          ? shown.length === 0
            ? `No step records for ${node}: the run did not reach it.`
            : `Showing ${shown.length} of ${steps.length} step records: those of ${node}.`
          : steps.length > 0
            ? "Choose a node on the canvas to see only its steps."
            : ""}
      </p>
      <ol className={node ? "steps narrowed" : "steps"} aria-label={node ? `Steps of ${node}` : "Steps"}>
        {shown.map(({ step, index }) => (
          <StepView key={index} step={step} onOpenRun={onOpenRun} />
        ))}
      </ol>
    </section>
  );
}

/** chosenNode says which node a run canvas's selection changes choose: the
 * one selected (by a click, or Enter or Space on a focused node), none when
 * the chosen one is unselected (Escape, a click on the pane), else current. */
export function chosenNode(changes: NodeChange[], current: string | null): string | null {
  for (const c of changes) if (c.type === "select" && c.selected) return c.id;
  if (changes.some((c) => c.type === "select" && !c.selected && c.id === current)) return null;
  return current;
}

// RunCanvas draws the flow version the run ran, each node with its status,
// items and duration in this run, and each edge with the items that went
// along it; choosing a node tells onChoose.
function RunCanvas({ client, run, chosen, onChoose }: { client: Client; run: Run; chosen: string | null; onChoose: (node: string | null) => void }) {
  const doc = useQuery({
    queryKey: ["version", run.flow_id, run.flow_version],
    queryFn: () => client.getVersion(run.flow_id, run.flow_version),
    staleTime: Infinity,
  });
  const types = useQuery({ queryKey: ["node-types"], queryFn: () => client.listNodeTypes(), staleTime: Infinity });
  if (!doc.data || !types.data) return null;
  const steps = stepsByNode(run);
  const { nodes, edges } = toCanvas(doc.data, types.data);
  const drawn: CanvasNode[] = nodes.map((n) => {
    const mine = steps.get(n.id);
    return {
      ...n,
      ariaLabel: `${n.data.type?.title ?? n.data.node.type} ${n.id}: ${(mine && nodeStatus(mine)) ?? "not run"}`,
      selected: n.id === chosen,
      data: { ...n.data, steps: mine },
    };
  });
  return (
    <div className="canvas run-canvas" aria-label={`Flow version ${run.flow_version} as it ran`}>
      <ReactFlow
        nodes={[...readOnlyNotes(doc.data.ui), ...drawn]}
        edges={withCounts(run, nodes, edges)}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        onNodesChange={(changes) => {
          const next = chosenNode(changes, chosen);
          if (next !== chosen) onChoose(next);
        }}
        nodesDraggable={false}
        nodesConnectable={false}
        edgesFocusable={false}
        fitView
        fitViewOptions={{ maxZoom: 1 }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

// DeliveriesPage lists the requests that reached trigger URLs: accepted
// (with the run they started), rejected with the reason, duplicates, and
// requests captured while someone listened.
export function DeliveriesPage({
  client,
  filters,
  onFilters,
  onOpen,
  onOpenRun,
}: {
  client: Client;
  filters: ListFilters;
  onFilters: (f: ListFilters) => void;
  onOpen: (deliveryId: string) => void;
  onOpenRun: (runId: string) => void;
}) {
  const { flow: flowId, from, to } = filters;
  const status = (filters.status || undefined) as DeliveryFilter["status"];
  const set = (change: Partial<ListFilters>) => onFilters({ ...filters, ...change });
  const since = utc(from);
  const until = utc(to);
  const flows = useQuery({ queryKey: ["flows"], queryFn: () => client.listFlows() });
  const deliveries = useInfiniteQuery({
    queryKey: ["deliveries", flowId, status, since, until],
    queryFn: ({ pageParam }) => client.listDeliveries({ flow_id: flowId, status, since, until, cursor: pageParam }),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor || undefined,
  });
  const list = deliveries.data?.pages.flatMap((p) => p.deliveries) ?? [];
  return (
    <section aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Deliveries</h2>
      <Filter
        what="deliveries"
        flows={flows.data ?? []}
        flowId={flowId}
        onFlow={(flow) => set({ flow })}
        statuses={["accepted", "rejected", "duplicate", "captured"]}
        status={filters.status}
        onStatus={(status) => set({ status })}
        from={{ value: from, onChange: (from) => set({ from }) }}
        to={{ value: to, onChange: (to) => set({ to }) }}
      />
      {deliveries.isPending && <p aria-busy="true">Loading deliveries…</p>}
      {deliveries.isError && <p role="alert">{deliveries.error.message}</p>}
      {deliveries.isSuccess && list.length === 0 && <p>No requests have reached a trigger URL yet.</p>}
      {list.length > 0 && (
        <table aria-label="Deliveries">
          <thead>
            <tr>
              <th scope="col">Received</th>
              <th scope="col">Flow</th>
              <th scope="col">Request</th>
              <th scope="col">Status</th>
              <th scope="col">Answer</th>
              <th scope="col">Run</th>
            </tr>
          </thead>
          <tbody>
            {list.map((d) => (
              <tr key={d.id}>
                <td>
                  <PageLink to={`/deliveries/${d.id}`} onGo={() => onOpen(d.id)} aria-label={`Open the delivery received ${when(d.received_at)}`}>
                    {when(d.received_at)}
                  </PageLink>
                </td>
                <td>
                  <FlowName name={d.flow_name} deleted={d.flow_deleted} />
                </td>
                <td className="mono">
                  {d.method} {d.path}
                  {d.query ? `?${d.query}` : ""} <small>({d.body_size} bytes)</small>
                </td>
                <td>
                  <span data-status={d.status === "accepted" ? "succeeded" : d.status === "rejected" ? "failed" : "queued"}>{d.status}</span>
                  {d.reason && <small className="problem"> {d.reason}</small>}
                </td>
                <td>{answerOf(d)}</td>
                <td>
                  {d.run_id && (
                    <PageLink to={`/runs/${d.run_id}`} onGo={() => onOpenRun(d.run_id!)} className="mono">
                      {d.run_id.slice(-12)}
                    </PageLink>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {deliveries.hasNextPage && (
        <button type="button" onClick={() => void deliveries.fetchNextPage()} disabled={deliveries.isFetchingNextPage}>
          Older deliveries
        </button>
      )}
    </section>
  );
}

/** isMessage tells a broker trigger's message from a webhook request: its
 * method is the broker's name in capitals. */
function isMessage(d: Delivery): boolean {
  return ["RABBITMQ", "NATS", "MQTT", "REDIS"].includes(d.method);
}

/** answerOf is what a delivery was answered: a request's HTTP status, or
 * for a broker message its acknowledgement. */
function answerOf(d: Delivery): string {
  return isMessage(d) ? "ack" : String(d.http_status);
}

/** deliveryOutcome says in words what became of a delivery. */
export function deliveryOutcome(d: Delivery): string {
  if (isMessage(d)) {
    switch (d.status) {
      case "accepted":
        return "A message, recorded, then acknowledged to the broker; it started a run.";
      case "duplicate":
        return "A repeat of an earlier message, acknowledged; it started no run of its own.";
      default:
        return `Refused${d.reason ? `: ${d.reason}` : ""}; it started no run.`;
    }
  }
  switch (d.status) {
    case "accepted":
      return `Accepted and answered ${d.http_status}; it started a run.`;
    case "duplicate":
      return `A repeat of an earlier delivery (answered ${d.http_status}); it started no run of its own.`;
    case "captured":
      return `Captured for someone listening for a test event (answered ${d.http_status}); it started no run.`;
    default:
      return `Rejected with ${d.http_status}${d.reason ? `: ${d.reason}` : ""}.`;
  }
}

// DeliveryView shows one request to a trigger URL: what became of it, its
// headers (credentials redacted), its body, and what expressions saw of it.
export function DeliveryView({
  client,
  deliveryId,
  onOpenRun,
  onClose,
}: {
  client: Client;
  deliveryId: string;
  onOpenRun: (runId: string) => void;
  onClose: () => void;
}) {
  const delivery = useQuery({ queryKey: ["delivery", deliveryId], queryFn: () => client.getDelivery(deliveryId) });
  const back = (
    <PageLink to="/deliveries" onGo={onClose} className="button">
      ← Deliveries
    </PageLink>
  );
  if (delivery.isPending) return <p aria-busy="true">Loading the delivery…</p>;
  if (delivery.isError) {
    return (
      <p role="alert">
        {delivery.error.message} {back}
      </p>
    );
  }
  const d = delivery.data;
  const status = d.status === "accepted" ? "succeeded" : d.status === "rejected" ? "failed" : "queued";
  return (
    <section aria-label={`Delivery ${d.id}`}>
      <div className="editor-bar">
        {back}
        <h2>
          <span className="mono">
            {d.method} {d.path || "/"}
            {d.query ? `?${d.query}` : ""}
          </span>{" "}
          <span data-status={status}>{d.status}</span>
        </h2>
      </div>
      <p className="outcome">{deliveryOutcome(d)}</p>
      <dl className="facts">
        <dt>Flow</dt>
        <dd>
          <FlowName name={d.flow_name} deleted={d.flow_deleted} />
        </dd>
        <dt>Received</dt>
        <dd>{when(d.received_at)}</dd>
        <dt>Answer</dt>
        <dd>{answerOf(d)}</dd>
        {d.run_id && (
          <>
            <dt>{d.status === "duplicate" ? "Run of the first delivery" : "Run"}</dt>
            <dd>
              <PageLink to={`/runs/${d.run_id}`} onGo={() => onOpenRun(d.run_id!)} className="mono">
                {d.run_id}
              </PageLink>
            </dd>
          </>
        )}
        {d.dedupe_key && (
          <>
            <dt>Delivery id</dt>
            <dd className="mono">{d.dedupe_key}</dd>
          </>
        )}
      </dl>
      <h3>Headers</h3>
      <table aria-label="Headers" className="headers">
        <tbody>
          {Object.entries(d.headers)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([name, value]) => (
              <tr key={name}>
                <th scope="row" className="mono">
                  {name}
                </th>
                <td className="mono">{value}</td>
              </tr>
            ))}
        </tbody>
      </table>
      <h3>Body</h3>
      <p className="help">
        {d.content_type || "no content type"} · {d.body_size} bytes
        {d.body_encoding === "base64" && " · not text: shown as base64"}
        {d.body_truncated && " · cut short here"}
      </p>
      <pre className="mono" aria-label="Body">
        {d.body ?? ""}
      </pre>
      {d.trigger && (
        <details>
          <summary>What expressions saw as trigger</summary>
          <pre className="mono">{JSON.stringify(d.trigger, null, 2)}</pre>
        </details>
      )}
      {d.trigger_error && <p className="problem">{d.trigger_error}</p>}
    </section>
  );
}
