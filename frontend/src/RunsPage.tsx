import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Background, Controls, ReactFlow } from "@xyflow/react";
import { errorMessage, type Client, type Run, type RunStatus } from "./api";
import { duration, StepView, when } from "./StepView";
import { nodeTypes } from "./FlowEditor";
import { stepsByNode, toCanvas } from "./graph";

const statuses: RunStatus[] = ["queued", "running", "succeeded", "failed", "canceled"];
const live = (r: Run) => r.status === "queued" || r.status === "running";

// RunsPage is the run history: filtered by flow and status, newest first, a
// page at a time, refreshed while runs on it are still going.
export function RunsPage({ client, onOpen }: { client: Client; onOpen: (runId: string) => void }) {
  const [flowId, setFlowId] = useState("");
  const [status, setStatus] = useState<RunStatus | "">("");
  const flows = useQuery({ queryKey: ["flows"], queryFn: () => client.listFlows() });
  const runs = useInfiniteQuery({
    queryKey: ["runs", flowId, status],
    queryFn: ({ pageParam }) => client.listRuns({ flow_id: flowId || undefined, status: status || undefined, cursor: pageParam || undefined }),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor || undefined,
    refetchInterval: (q) => (q.state.data?.pages.some((p) => p.runs.some(live)) ? 2000 : false),
  });
  const names = new Map((flows.data ?? []).map((f) => [f.id, f.name]));
  const list = runs.data?.pages.flatMap((p) => p.runs) ?? [];

  return (
    <section aria-labelledby="runs-title">
      <h2 id="runs-title">Runs</h2>
      <Filter
        what="runs"
        flows={flows.data ?? []}
        flowId={flowId}
        onFlow={setFlowId}
        statuses={statuses}
        status={status}
        onStatus={(v) => setStatus(v as RunStatus | "")}
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
                  <button type="button" className="link mono" onClick={() => onOpen(r.id)} aria-label={`Open run ${r.id}`}>
                    {r.id.slice(-12)}
                  </button>
                </td>
                <td>
                  {names.get(r.flow_id) ?? r.flow_id} <small>v{r.flow_version}</small>
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

/** Filter narrows a list by flow and status. */
function Filter(props: {
  what: string;
  flows: { id: string; name: string }[];
  flowId: string;
  onFlow: (id: string) => void;
  statuses: string[];
  status: string;
  onStatus: (status: string) => void;
}) {
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
    </form>
  );
}

// RunView shows one run: its status and trigger data, and each step's
// attempts with input, output, error and log lines; it replays and cancels.
export function RunView({ client, runId, onOpen, onClose }: { client: Client; runId: string; onOpen: (runId: string) => void; onClose: () => void }) {
  const queries = useQueryClient();
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
        <button type="button" onClick={onClose}>
          ← Runs
        </button>
        <h2>
          Run <span className="mono">{r.id.slice(-12)}</span> <span data-status={r.status}>{r.status}</span>
        </h2>
        <button type="button" onClick={() => replay.mutate()} disabled={replay.isPending}>
          Replay
        </button>
        {live(r) && (
          <button type="button" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            Cancel
          </button>
        )}
      </div>
      {error && <p role="alert">{error}</p>}
      {r.error && <p className="problem">{r.error}</p>}
      <p className="help">
        Flow version {r.flow_version} · {r.trigger.type} · started {when(r.started_at)} · {duration(r.duration_ms)}
        {r.replay_of && (
          <>
            {" "}
            · replay of{" "}
            <button type="button" className="link mono" onClick={() => onOpen(r.replay_of!)}>
              {r.replay_of.slice(-12)}
            </button>
          </>
        )}
      </p>
      <RunCanvas client={client} run={r} />
      <details>
        <summary>Trigger data</summary>
        <pre className="mono">{JSON.stringify(r.trigger.data, null, 2)}</pre>
      </details>
      <h3>Steps</h3>
      <ol className="steps">
        {(r.steps ?? []).map((s, i) => (
          <StepView key={i} step={s} />
        ))}
      </ol>
    </section>
  );
}

// RunCanvas draws the flow version the run ran, each node with its status
// and duration in this run.
function RunCanvas({ client, run }: { client: Client; run: Run }) {
  const doc = useQuery({
    queryKey: ["version", run.flow_id, run.flow_version],
    queryFn: () => client.getVersion(run.flow_id, run.flow_version),
    staleTime: Infinity,
  });
  const types = useQuery({ queryKey: ["node-types"], queryFn: () => client.listNodeTypes(), staleTime: Infinity });
  if (!doc.data || !types.data) return null;
  const steps = stepsByNode(run);
  const { nodes, edges } = toCanvas(doc.data, types.data);
  const drawn = nodes.map((n) => ({ ...n, data: { ...n.data, steps: steps.get(n.id) } }));
  return (
    <div className="canvas run-canvas" aria-label={`Flow version ${run.flow_version} as it ran`}>
      <ReactFlow nodes={drawn} edges={edges} nodeTypes={nodeTypes} nodesDraggable={false} nodesConnectable={false} fitView fitViewOptions={{ maxZoom: 1 }}>
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

// DeliveriesPage lists the requests that reached trigger URLs: accepted
// (with the run they started), rejected with the reason, duplicates, and
// requests captured while someone listened.
export function DeliveriesPage({ client, onOpenRun }: { client: Client; onOpenRun: (runId: string) => void }) {
  const [flowId, setFlowId] = useState("");
  const [status, setStatus] = useState("");
  const flows = useQuery({ queryKey: ["flows"], queryFn: () => client.listFlows() });
  const deliveries = useInfiniteQuery({
    queryKey: ["deliveries", flowId, status],
    queryFn: ({ pageParam }) => client.listDeliveries({ flow_id: flowId, status, cursor: pageParam }),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor || undefined,
  });
  const names = new Map((flows.data ?? []).map((f) => [f.id, f.name]));
  const list = deliveries.data?.pages.flatMap((p) => p.deliveries) ?? [];
  return (
    <section aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Deliveries</h2>
      <Filter
        what="deliveries"
        flows={flows.data ?? []}
        flowId={flowId}
        onFlow={setFlowId}
        statuses={["accepted", "rejected", "duplicate", "captured"]}
        status={status}
        onStatus={setStatus}
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
                <td>{when(d.received_at)}</td>
                <td>{names.get(d.flow_id) ?? d.flow_id}</td>
                <td className="mono">
                  {d.method} {d.path}
                  {d.query ? `?${d.query}` : ""} <small>({d.body_size} bytes)</small>
                </td>
                <td>
                  <span data-status={d.status === "accepted" ? "succeeded" : d.status === "rejected" ? "failed" : "queued"}>{d.status}</span>
                  {d.reason && <small className="problem"> {d.reason}</small>}
                </td>
                <td>{d.http_status}</td>
                <td>
                  {d.run_id && (
                    <button type="button" className="link mono" onClick={() => onOpenRun(d.run_id!)}>
                      {d.run_id.slice(-12)}
                    </button>
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
