import { useQuery, useQueryClient } from "@tanstack/react-query";
import {
  addEdge,
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  useEdgesState,
  useNodesState,
  type AriaLabelConfig,
  type Connection,
  type NodeChange,
  type ReactFlowInstance,
} from "@xyflow/react";
import { useEffect, useMemo, useRef, useState, type DragEvent, type KeyboardEvent as ReactKeyboardEvent } from "react";
import {
  ApiError,
  errorMessage,
  type Client,
  type Delivery,
  type Flow,
  type FlowDocument,
  type FlowNode,
  type FlowSettings,
  type NodeType,
  type PreviewScope,
  type Problem,
  type Run,
  type TestOptions,
} from "./api";
import { exportable } from "./FlowsPage";
import {
  columnWidth,
  edgeId,
  fromCanvas,
  layout,
  newNodeId,
  newNote,
  notesOf,
  splitNoteChanges,
  stepsByNode,
  toCanvas,
  withCounts,
  type CanvasNode,
  type NoteNode,
} from "./graph";
import { NewCredential } from "./CredentialsPage";
import { useAccess } from "./access";
import { NodePanel } from "./NodePanel";
import { Connections } from "./Connections";
import { edgeTypes, named, nodeTypes } from "./FlowNodeView";
import { KindIcon } from "./icons";
import { scopePaths } from "./paths";
import { CodeField } from "./CodeField";
import { NodeView, type InputSource } from "./NodeView";
import { ancestorsOf, inputOf, loopOf, mergeRun, parentsOf, pinOf, pinsToTestAlone, withPin, type Known } from "./nodedata";

/** canvasOf is toCanvas with each node named. */
function canvasOf(...args: Parameters<typeof toCanvas>) {
  const drawn = toCanvas(...args);
  return { nodes: drawn.nodes.map(named), edges: drawn.edges };
}

// What a focused node tells screen readers it can do. React Flow's own
// keys: Tab between nodes, Enter or Space selects, arrows move, Delete
// removes, Escape unselects; selecting opens the node's panel.
const ariaLabels: Partial<AriaLabelConfig> = {
  "node.a11yDescription.default":
    "Press Enter or Space to select the node and open its settings and connections beside the canvas, and Enter again to go to them. Press Delete to remove it and Escape to unselect it.",
  "node.a11yDescription.keyboardDisabled":
    "Press Enter or Space to select the node and open its settings and connections beside the canvas, and Enter again to go to them. Arrow keys then move it, Delete removes it and Escape unselects it.",
};

// Elements that take text, and keep their own keys (undo, Delete, Enter).
const textEntry = "input, textarea, select, [contenteditable]";

// Where the keyboard goes in a node's panel when the node is added.
const focusable = 'input:not([type="hidden"]):not([readonly]), select, textarea, button, [contenteditable="true"], [tabindex="0"]';

// dragKind carries a node kind from the palette to the canvas.
const dragKind = "application/x-hookflow-kind";

/** The trigger kinds a message broker feeds. */
const brokerTriggers = ["trigger.rabbitmq", "trigger.nats", "trigger.mqtt", "trigger.redis"];

// FlowEditor shows a flow on the canvas: add nodes from the palette,
// connect them from their ports, move and delete them, and save a new
// version. Problems the server finds are shown on their nodes.

export function FlowEditor({
  client,
  flowId,
  node = null,
  onNode = () => {},
  onClose,
}: {
  client: Client;
  flowId: string;
  /** The node selected on the canvas when the flow opens (the URL's ?node=). */
  node?: string | null;
  /** Told of the node selected, so the URL follows it. */
  onNode?: (node: string | null) => void;
  onClose: () => void;
}) {
  const flow = useQuery({ queryKey: ["flow", flowId], queryFn: () => client.getFlow(flowId) });
  const types = useQuery({ queryKey: ["node-types"], queryFn: () => client.listNodeTypes(), staleTime: Infinity });

  if (flow.isPending || types.isPending) return <p aria-busy="true">Loading the flow…</p>;
  if (flow.isError || types.isError) {
    return (
      <p role="alert">
        {String((flow.error ?? types.error)?.message)} <button onClick={onClose}>Back to flows</button>
      </p>
    );
  }
  // A restored version remounts the canvas with that document.
  return <Canvas key={flow.data.version} client={client} flow={flow.data} types={types.data} node={node} onNode={onNode} onClose={onClose} />;
}

// ReceivedPayloads offers the bodies of the requests the flow's trigger
// took (accepted, or captured while listening) as the test payload.
function ReceivedPayloads({ client, flowId, onPick }: { client: Client; flowId: string; onPick: (body: unknown) => void }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState("");
  const received = useQuery({
    queryKey: ["received", flowId],
    queryFn: async () => {
      const [accepted, captured] = await Promise.all([
        client.listDeliveries({ flow_id: flowId, status: "accepted" }),
        client.listDeliveries({ flow_id: flowId, status: "captured" }),
      ]);
      return [...accepted.deliveries, ...captured.deliveries].sort((a, b) => b.received_at.localeCompare(a.received_at)).slice(0, 10);
    },
    enabled: open,
  });
  async function pick(id: string) {
    try {
      const d = await client.getDelivery(id);
      onPick(d.trigger?.body ?? null);
      setError("");
    } catch (err) {
      setError(errorMessage(err));
    }
  }
  return (
    <div className="received">
      <label htmlFor="received-payloads">Or use a request the trigger took</label>{" "}
      <select id="received-payloads" value="" onFocus={() => setOpen(true)} onChange={(e) => e.target.value && void pick(e.target.value)}>
        <option value="">{received.data && received.data.length === 0 ? "None received yet" : "Choose a request…"}</option>
        {received.data?.map((d) => (
          <option key={d.id} value={d.id}>
            {new Date(d.received_at).toLocaleString()} · {d.method} {d.path || "/"} · {d.status}
          </option>
        ))}
      </select>
      {error && <small className="problem">{error}</small>}
    </div>
  );
}

// FlowSettingsPanel edits the flow's own options; its problems show under
// their fields.
function FlowSettingsPanel({
  client,
  flowId,
  settings,
  onChange,
  problems,
}: {
  client: Client;
  flowId: string;
  settings: FlowSettings;
  onChange: (s: FlowSettings) => void;
  problems: Problem[];
}) {
  const limit = problems.filter((p) => p.node === "" && p.field.startsWith("settings"));
  const flows = useQuery({ queryKey: ["flows"], queryFn: () => client.listFlows() });
  // set changes one setting; undefined removes it.
  function set<K extends keyof FlowSettings>(key: K, value: FlowSettings[K] | undefined) {
    const { [key]: _, ...rest } = settings;
    onChange(value === undefined ? rest : { ...rest, [key]: value });
  }
  const summary = [
    settings.concurrency ? `at most ${settings.concurrency} at once` : "",
    settings.error_flow ? "error flow" : "",
    settings.timeout_ms ? `time limit ${settings.timeout_ms / 1000} s` : "",
  ].filter(Boolean);
  // Open while the user has it open, and whenever it shows a problem.
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (limit.length > 0) setOpen(true);
  }, [limit.length]);
  return (
    <details className="flow-settings" open={open} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>Flow settings{summary.length > 0 ? ` · ${summary.join(" · ")}` : ""}</summary>
      <div className="settings-body">
        <label htmlFor="flow-concurrency">Most runs at once</label>
        <input
          id="flow-concurrency"
          type="number"
          min={1}
          step={1}
          placeholder="No limit"
          aria-describedby="flow-concurrency-help"
          value={settings.concurrency ?? ""}
          onChange={(e) => set("concurrency", e.target.value === "" ? undefined : Number(e.target.value))}
        />
        <small id="flow-concurrency-help">
          Runs of this flow in flight at once, counted across every instance; more wait in the queue, in order. Empty: no limit.
        </small>
        <label htmlFor="flow-error-flow">Error flow</label>
        <select
          id="flow-error-flow"
          aria-describedby="flow-error-flow-help"
          value={settings.error_flow ?? ""}
          onChange={(e) => set("error_flow", e.target.value === "" ? undefined : e.target.value)}
        >
          <option value="">None</option>
          {settings.error_flow && !flows.data?.some((f) => f.id === settings.error_flow) && (
            <option value={settings.error_flow}>{settings.error_flow}</option>
          )}
          {(flows.data ?? [])
            .filter((f) => f.id !== flowId)
            .map((f) => (
              <option key={f.id} value={f.id}>
                {f.name}
              </option>
            ))}
        </select>
        <small id="flow-error-flow-help">
          A flow started whenever a run of this one fails, with what failed as its trigger.input. It starts with a
          &quot;Called by a flow&quot; or manual trigger.
        </small>
        <label htmlFor="flow-timeout">Time limit per run (seconds)</label>
        <input
          id="flow-timeout"
          type="number"
          min={1}
          step={1}
          placeholder="No limit"
          aria-describedby="flow-timeout-help"
          value={settings.timeout_ms === undefined ? "" : settings.timeout_ms / 1000}
          onChange={(e) => set("timeout_ms", e.target.value === "" ? undefined : Math.round(Number(e.target.value) * 1000))}
        />
        <small id="flow-timeout-help">A run still going this long after it started, waits included, fails. Empty: no limit.</small>
        {limit.map((p, i) => (
          <p key={i} role="alert" className="problem">
            {p.message}
          </p>
        ))}
      </div>
    </details>
  );
}

// Versions lists a flow's saved versions; restoring one saves it again as
// the newest.
function Versions({ client, flow, current, dirty }: { client: Client; flow: Flow; current: number; dirty: boolean }) {
  const queries = useQueryClient();
  const denied = useAccess().why("flows:write");
  const [open, setOpen] = useState(false);
  const versions = useQuery({ queryKey: ["versions", flow.id, current], queryFn: () => client.listVersions(flow.id), enabled: open });
  const [error, setError] = useState("");

  async function restore(version: number) {
    if (dirty && !window.confirm("This flow has unsaved changes. Restore anyway and lose them?")) return;
    try {
      const old = await client.getVersion(flow.id, version);
      await client.updateFlow(flow.id, exportable(old));
      await queries.invalidateQueries({ queryKey: ["flow", flow.id] });
      void queries.invalidateQueries({ queryKey: ["flows"] });
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  return (
    <details className="versions" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>Versions</summary>
      {error && <p role="alert">{error}</p>}
      {versions.isPending && open && <p aria-busy="true">Loading…</p>}
      <ol aria-label="Versions">
        {versions.data?.map((v) => (
          <li key={v.version}>
            v{v.version} · {new Date(v.created_at).toLocaleString()}{" "}
            {v.version === current ? (
              <small>current</small>
            ) : (
              <button type="button" onClick={() => void restore(v.version)} disabled={!!denied} title={denied || undefined}>
                Restore v{v.version}
              </button>
            )}
          </li>
        ))}
      </ol>
    </details>
  );
}

function Canvas({
  client,
  flow,
  types,
  node,
  onNode,
  onClose,
}: {
  client: Client;
  flow: Flow;
  types: NodeType[];
  node: string | null;
  onNode: (node: string | null) => void;
  onClose: () => void;
}) {
  const queries = useQueryClient();
  const access = useAccess();
  const mayNotSave = access.why("flows:write");
  const mayNotRun = access.why("runs:write");
  const initial = useMemo(() => {
    const drawn = canvasOf(flow, types);
    return { ...drawn, nodes: drawn.nodes.map((n) => (n.id === node ? { ...n, selected: true } : n)) };
    // The node in the URL selects once, when the flow opens.
  }, [flow, types]);
  const [nodes, setNodes, onNodesChange] = useNodesState<CanvasNode>(initial.nodes);
  const [edges, setEdges, onEdgesChange] = useEdgesState(initial.edges);
  // Sticky notes are canvas nodes kept apart from the flow's, so nothing
  // that reads the flow's nodes (the panel, checks, a run's steps) sees them.
  const initialNotes = useMemo(() => notesOf(flow.ui), [flow]);
  const [notes, setNotes, onNotesChange] = useNodesState<NoteNode>(initialNotes);
  function onCanvasNodesChange(changes: NodeChange<CanvasNode | NoteNode>[]) {
    const [flowChanges, noteChanges] = splitNoteChanges<CanvasNode, NoteNode>(changes);
    if (flowChanges.length > 0) onNodesChange(flowChanges);
    if (noteChanges.length > 0) onNotesChange(noteChanges);
  }
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState("");
  const [version, setVersion] = useState(flow.version);
  const [settings, setSettings] = useState<FlowSettings>(flow.settings ?? {});
  // The panel shows the one selected node. React Flow keeps the selection:
  // a click, Enter or Space on a focused node, Escape, a click on the pane.
  const chosen = nodes.filter((n) => n.selected);
  const current = chosen.length === 1 ? chosen[0] : undefined;
  const selected = current?.id ?? null;
  useEffect(() => onNode(selected), [selected]);
  const [view, setView] = useState<ReactFlowInstance<CanvasNode | NoteNode> | null>(null);
  // The node view opening or closing changes the canvas's width: fit the
  // flow to it again, so no node is left cut off at the edge.
  const viewOpen = selected !== null;
  useEffect(() => {
    const t = setTimeout(() => void view?.fitView({ maxZoom: 1, duration: 200 }), 50);
    return () => clearTimeout(t);
  }, [viewOpen]);
  const credentials = useQuery({ queryKey: ["credentials"], queryFn: () => client.listCredentials() });
  const flows = useQuery({ queryKey: ["flows"], queryFn: () => client.listFlows() });
  const sample = useQuery({ queryKey: ["sample", flow.id], queryFn: () => client.getSample(flow.id) });
  const credentialTypes = useQuery({ queryKey: ["credential-types"], queryFn: () => client.listCredentialTypes(), staleTime: Infinity });
  // A broker trigger's connection, as the server sees it now: polled while
  // its node is open, apart from the flow the canvas was drawn from.
  const brokerTrigger = current !== undefined && brokerTriggers.includes(current.data.node.type);
  const consumer = useQuery({
    queryKey: ["consumer", flow.id],
    queryFn: async () => (await client.getFlow(flow.id)).triggers.find((t) => t.consumer)?.consumer ?? null,
    enabled: brokerTrigger,
    refetchInterval: 5000,
  });

  // Unsaved changes: the canvas no longer says what the last save said.
  const doc = JSON.stringify(fromCanvas(flow.name, [...nodes, ...notes], edges, settings, flow.ui));
  const [savedDoc, setSavedDoc] = useState(() =>
    JSON.stringify(fromCanvas(flow.name, [...initial.nodes, ...initialNotes], initial.edges, flow.settings, flow.ui)),
  );
  const dirty = doc !== savedDoc;
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
  // Undo and redo step through the documents the canvas has shown; a
  // drag counts once, when it ends.
  const [past, setPast] = useState<string[]>([]);
  const [future, setFuture] = useState<string[]>([]);
  const [shown, setShown] = useState(doc);
  const [dragging, setDragging] = useState(false);
  // Resizing a note counts once too.
  const resizing = notes.some((n) => n.resizing);
  useEffect(() => {
    if (dragging || resizing || doc === shown) return;
    setPast((p) => [...p.slice(-99), shown]);
    setFuture([]);
    setShown(doc);
  }, [doc, shown, dragging, resizing]);
  // The selection outlives an undo that takes its node away, so the redo
  // that brings the node back selects it again; unselecting forgets it.
  const lastSelected = useRef<string | null>(null);
  useEffect(() => {
    if (selected) lastSelected.current = selected;
    else if (nodes.some((n) => n.id === lastSelected.current)) lastSelected.current = null;
  }, [selected, nodes]);
  function restore(target: string) {
    const parsed = JSON.parse(target) as FlowDocument;
    const next = canvasOf(parsed, types, problems);
    setSettings(parsed.settings ?? {});
    const kept = new Set(chosen.length ? chosen.map((n) => n.id) : lastSelected.current ? [lastSelected.current] : []);
    setNodes(next.nodes.map((n) => (kept.has(n.id) ? { ...n, selected: true } : n)));
    setEdges(next.edges);
    setNotes(notesOf(parsed.ui));
    setShown(target);
  }
  function undo() {
    const previous = past[past.length - 1];
    if (previous === undefined) return;
    setPast(past.slice(0, -1));
    setFuture([shown, ...future]);
    restore(previous);
  }
  function redo() {
    const next = future[0];
    if (next === undefined) return;
    setFuture(future.slice(1));
    setPast([...past, shown]);
    restore(next);
  }
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      // Text fields, code editors included, keep their own undo.
      if (!(e.ctrlKey || e.metaKey) || target.closest(textEntry)) return;
      const key = e.key.toLowerCase();
      if (key === "z" && !e.shiftKey) {
        e.preventDefault();
        undo();
      } else if ((key === "z" && e.shiftKey) || key === "y") {
        e.preventDefault();
        redo();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  function autoLayout() {
    setNodes((ns) => layout(ns, edges));
    setTimeout(() => void view?.fitView({ maxZoom: 1, duration: 200 }), 0);
  }

  function close() {
    if (!dirty || window.confirm("This flow has unsaved changes. Leave without saving them?")) onClose();
  }

  function updateNode(node: FlowNode) {
    setNodes((ns) => ns.map((n) => (n.id === node.id ? { ...n, data: { ...n.data, node } } : n)));
  }

  const [testRun, setTestRun] = useState<Run | null>(null);
  // The last test's payload (and headers) come back when the flow reopens.
  const [payload, setPayload] = useState(() =>
    flow.test_payload && "payload" in flow.test_payload ? JSON.stringify(flow.test_payload.payload, null, 2) : "{}",
  );
  const testHeaders = flow.test_payload?.headers ?? {};
  const [listening, setListening] = useState(false);
  const [captured, setCaptured] = useState<Delivery | null>(null);

  // What the editor has seen each node give, across tests: a test of one
  // node adds its output to those of earlier tests, so the data of the
  // whole flow builds up a node at a time. Pinned outputs win.
  const [seen, setSeen] = useState<Record<string, Known>>({});
  const known = useMemo(() => {
    const out = { ...seen };
    for (const n of nodes) {
      const pin = pinOf(n.data.node);
      if (pin) out[n.id] = { output: pin.output, ...(pin.port ? { port: pin.port } : {}), pinned: true };
    }
    return out;
  }, [seen, nodes]);
  const triggerIds = useMemo(() => new Set(nodes.filter((n) => n.data.type?.category === "trigger").map((n) => n.id)), [nodes]);
  const trigger = testRun?.trigger.data ?? captured?.trigger ?? sample.data?.trigger;

  // Inside a foreach, previews see the loop's first element as item.
  const loop = selected ? loopOf(selected, nodes.map((n) => n.data.node), edges) : null;
  const loopItems = typeof loop?.params?.items === "string" ? loop.params.items : "";
  const [loopItem, setLoopItem] = useState<{ item: unknown; index: number } | undefined>(undefined);

  // Expression fields complete the paths of real data, and preview their
  // values with it: the known outputs, the trigger's data from the last
  // test or else the latest request the trigger took, and the selected
  // node's input: what it got in the last test or, when it did not run,
  // what its parents gave.
  const { paths, previewScope, inputs } = useMemo(() => {
    const steps: Record<string, unknown> = {};
    for (const [id, k] of Object.entries(known)) if (!triggerIds.has(id)) steps[id] = k.output;
    const recorded = (testRun?.steps ?? []).filter((st) => st.node_id === selected && !st.iteration && st.input !== undefined).at(-1);
    const parents = selected ? parentsOf(selected, edges) : [];
    const afterTrigger = parents.length > 0 && parents.every((p) => triggerIds.has(p));
    const input = selected && !afterTrigger ? inputOf(selected, edges, known, recorded?.input) : undefined;
    const scope: PreviewScope | undefined =
      trigger === undefined && Object.keys(steps).length === 0
        ? undefined
        : { trigger: trigger as PreviewScope["trigger"], steps, ...(input === undefined ? {} : { input }), ...(loopItem ?? {}) };
    // The node view's input pane: the loop's element, the node's input,
    // then each node upstream with what it gave, the trigger last.
    const sources: InputSource[] = [];
    if (loopItem) sources.push({ key: "item", title: `Element of ${loop?.id}`, path: "item", value: loopItem.item });
    if (input !== undefined) sources.push({ key: "input", title: "Input", path: "input", value: input });
    for (const id of selected ? ancestorsOf(selected, edges) : []) {
      if (triggerIds.has(id)) continue;
      if (known[id] !== undefined) sources.push({ key: id, title: id, path: `steps.${id}`, value: known[id].output });
    }
    if (trigger !== undefined && selected && !triggerIds.has(selected)) sources.push({ key: "trigger", title: "Trigger", path: "trigger", value: trigger });
    // Each wait.callback's resume URL, for a message that sends it.
    const resume = nodes.filter((n) => n.data.node.type === "wait.callback").map((n) => `run.resume_urls.${n.id}`);
    // scopePaths roots a value at trigger; the loop's element is read as item.
    const loopPaths = loopItem ? [...scopePaths(loopItem.item, {}).map((p) => `item${p.slice("trigger".length)}`), "index"] : [];
    return { paths: [...scopePaths(trigger, steps, input), ...loopPaths, ...resume], previewScope: scope, inputs: sources };
  }, [testRun, trigger, known, triggerIds, selected, edges, nodes, loopItem, loop?.id]);

  // The loop's first element comes from its items expression, evaluated on
  // the data known upstream of the loop.
  useEffect(() => {
    setLoopItem(undefined);
    if (!loopItems) return;
    let stale = false;
    const steps: Record<string, unknown> = {};
    for (const [id, k] of Object.entries(known)) if (!triggerIds.has(id)) steps[id] = k.output;
    client
      .evaluate({ expression: loopItems }, { trigger: trigger as PreviewScope["trigger"], steps })
      .then((got) => {
        const list = (got as { value?: unknown }).value;
        if (!stale && Array.isArray(list) && list.length > 0) setLoopItem({ item: list[0], index: 0 });
      })
      .catch(() => {});
    return () => {
      stale = true;
    };
    // known changes with every edit of the canvas; the loop's element needs
    // evaluating again only when a test or a pin brings new data.
  }, [loopItems, seen, trigger, client]);

  // listen waits for the next request to the trigger URL, shows it, and
  // keeps its body as the test payload (the server keeps it as the sample).
  async function listen() {
    setListening(true);
    setStatus("Listening for a request to the trigger URL…");
    try {
      const got = await client.listen(flow.id);
      if (!got) {
        setStatus("No request came within two minutes.");
        return;
      }
      setCaptured(got);
      if (got.trigger?.body !== undefined) setPayload(JSON.stringify(got.trigger.body, null, 2));
      setStatus(`Captured a ${got.method} request.`);
    } catch (err) {
      setStatus(errorMessage(err));
    } finally {
      setListening(false);
    }
  }

  // Problems, and the steps of the last test run, are shown on their nodes.
  useEffect(() => {
    const steps = stepsByNode(testRun);
    setNodes((ns) =>
      ns.map((n) => ({ ...n, data: { ...n.data, problems: problems.filter((p) => p.node === n.id), steps: steps.get(n.id) } })),
    );
  }, [problems, testRun, setNodes]);

  function onConnect(c: Connection) {
    setEdges((es) => addEdge({ ...c, id: edgeId(c.source, c.target, c.sourceHandle), label: c.sourceHandle || undefined }, es));
  }

  // Delete and Backspace remove the selected nodes and edges, but only from
  // the canvas: React Flow's own key handler listens on the whole page, so a
  // Delete pressed on a button of the node's panel would remove the node.
  // Enter on a node that is already selected takes the keyboard to its
  // panel, past the rest of the canvas (the first Enter selects it).
  function onCanvasKey(e: ReactKeyboardEvent<HTMLDivElement>) {
    const target = e.target as HTMLElement;
    if (target.closest(textEntry)) return;
    if (e.key === "Delete" || e.key === "Backspace") {
      e.preventDefault();
      void view?.deleteElements({ nodes: [...nodes, ...notes].filter((n) => n.selected), edges: edges.filter((ed) => ed.selected) });
      return;
    }
    const nodeId = target.closest(".react-flow__node")?.getAttribute("data-id");
    if (e.key === "Enter" && nodeId && nodeId === selected) {
      e.preventDefault();
      focusPanel();
    }
  }

  // An edge removed from the panel goes as one deleted on the canvas does.
  function removeEdge(id: string) {
    onEdgesChange([{ type: "remove", id }]);
  }

  // focusPanel takes the keyboard to the first control of the node's panel.
  const side = useRef<HTMLDivElement>(null);
  const focusPanel = () => side.current?.querySelector<HTMLElement>(`.node-panel :is(${focusable})`)?.focus();
  // A node added from the palette does so once its panel is drawn.
  const [focusWhenShown, setFocusWhenShown] = useState<string | null>(null);
  useEffect(() => {
    if (!focusWhenShown || selected !== focusWhenShown) return;
    setFocusWhenShown(null);
    focusPanel();
  }, [focusWhenShown, selected]);

  // addNode adds a node of a kind: where it was dropped, or after the
  // rightmost node when clicked in the palette.
  function addNode(type: NodeType, at?: { x: number; y: number }) {
    const id = newNodeId(type.kind, nodes.map((n) => n.id));
    const position = at ?? { x: Math.max(0, ...nodes.map((n) => n.position.x)) + columnWidth, y: 0 };
    const added = named({ id, type: "flowNode", position, selected: true, data: { node: { id, type: type.kind, params: {} }, type, problems: [] } });
    // The new node is the one selected, so its panel opens.
    setNodes((ns) => [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), added]);
    if (!at) setFocusWhenShown(id);
    // Bring a clicked node into view once it is drawn.
    if (!at) setTimeout(() => void view?.fitView({ maxZoom: 1, duration: 200 }), 0);
  }

  // addNote adds a sticky note in the middle of the canvas's view, selected
  // alone, and takes the keyboard to its text.
  const canvasBox = useRef<HTMLDivElement>(null);
  function addNote() {
    const box = canvasBox.current?.getBoundingClientRect();
    if (!view || !box) return;
    const added = newNote(view.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 2 }), notes);
    setNodes((ns) => ns.map((n) => (n.selected ? { ...n, selected: false } : n)));
    setNotes((ns) => [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), added]);
    setTimeout(() => document.getElementById(`${added.id}-text`)?.focus(), 0);
  }

  // The items that went along each edge in the last test run.
  const counted = useMemo(() => withCounts(testRun, nodes, edges), [testRun, nodes, edges]);

  function onDrop(event: DragEvent) {
    event.preventDefault();
    const type = types.find((t) => t.kind === event.dataTransfer.getData(dragKind));
    if (type && view) addNode(type, view.screenToFlowPosition({ x: event.clientX, y: event.clientY }));
  }

  // save makes the canvas a new version; it reports whether it could.
  async function save(): Promise<boolean> {
    setStatus("Saving…");
    try {
      const saved = await client.updateFlow(flow.id, JSON.parse(doc));
      setSavedDoc(doc);
      setProblems([]);
      setVersion(saved.version);
      setStatus(`Saved as version ${saved.version}.`);
      void queries.invalidateQueries({ queryKey: ["flows"] });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.problems.length > 0) {
        setProblems(err.problems);
        setStatus(err.message);
      } else {
        setStatus(errorMessage(err));
      }
      return false;
    }
  }

  // test runs the flow once with the payload, saving unsaved changes first
  // (a test runs a saved version), and overlays the result on the canvas.
  // options narrow it: up to a node, or with outputs pinned for this test.
  async function test(options: TestOptions = {}) {
    let body: unknown;
    try {
      body = JSON.parse(payload || "null");
    } catch (err) {
      setStatus(`The test payload is not JSON: ${errorMessage(err)}`);
      return;
    }
    if (dirty && !(await save())) return;
    setStatus("Testing…");
    try {
      const run = await client.testFlow(flow.id, body, testHeaders, options);
      setTestRun(run);
      setSeen((s) => mergeRun(s, run));
      setStatus(
        run.status === "queued"
          ? "Test run waits (for a callback, or a delay); it goes on by itself, in run history."
          : `Test run ${run.status}${run.error ? `: ${run.error}` : "."}`,
      );
      void queries.invalidateQueries({ queryKey: ["runs"] });
    } catch (err) {
      setStatus(errorMessage(err));
    }
  }

  // pinDenied says why a node's output cannot be pinned: the server refuses
  // pins on triggers, on foreach and inside a loop (they run per element).
  function pinDenied(n: CanvasNode): string | undefined {
    if (n.data.type?.category === "trigger") return "A trigger cannot be pinned: a test gives it its payload.";
    if (n.data.node.type === "foreach") return "A foreach cannot be pinned: it runs its loop.";
    if (loopOf(n.id, nodes.map((m) => m.data.node), edges)) return "A node inside a loop cannot be pinned: it runs once per element.";
    return undefined;
  }

  const flowProblems = problems.filter((p) => p.node === "" && !p.field.startsWith("settings"));
  return (
    <section aria-label={`Flow ${flow.name}`} className="editor">
      <div className="editor-bar">
        <button type="button" onClick={close}>
          ← Flows
        </button>
        <h2>
          {flow.name} <small>v{version}</small>
        </h2>
        {dirty && <small className="unsaved">Unsaved changes</small>}
        <button type="submit" onClick={() => void save()} disabled={!!mayNotSave} title={mayNotSave || undefined}>
          Save
        </button>
        <button type="button" onClick={() => void test()} disabled={!!(mayNotRun || (dirty && mayNotSave))} title={mayNotRun || (dirty ? mayNotSave : "") || undefined}>
          Test
        </button>
        <button type="button" onClick={undo} disabled={past.length === 0} title="Ctrl+Z">
          Undo
        </button>
        <button type="button" onClick={redo} disabled={future.length === 0} title="Ctrl+Shift+Z">
          Redo
        </button>
        <button type="button" onClick={autoLayout}>
          Tidy up
        </button>
        <button type="button" onClick={addNote}>
          Add note
        </button>
        <span role="status">{status}</span>
      </div>
      {/* In one row, so the canvas keeps the window's height. */}
      <div className="editor-meta">
        <Versions client={client} flow={flow} current={version} dirty={dirty} />
        <FlowSettingsPanel client={client} flowId={flow.id} settings={settings} onChange={setSettings} problems={problems} />
        <details className="test-payload">
          <summary>Test payload</summary>
          <label id="test-payload-label" htmlFor="test-payload">The body the trigger receives in a test run (JSON)</label>
          <CodeField id="test-payload" labelledBy="test-payload-label" mode="json" value={payload} onChange={setPayload} />
          <ReceivedPayloads client={client} flowId={flow.id} onPick={(body) => setPayload(JSON.stringify(body, null, 2))} />
        </details>
      </div>
      {flowProblems.length > 0 && (
        <ul role="alert" aria-label="Problems">
          {flowProblems.map((p, i) => (
            <li key={i}>
              {p.field}: {p.message}
            </li>
          ))}
        </ul>
      )}
      <div className="editor-body">
        <Palette types={types} onAdd={addNode} />
        <div
          className="canvas"
          aria-label="Canvas"
          ref={canvasBox}
          onDragOver={(e) => {
            e.preventDefault();
            e.dataTransfer.dropEffect = "copy";
          }}
          onDrop={onDrop}
          onKeyDown={onCanvasKey}
        >
          <ReactFlow
            nodes={[...nodes, ...notes]}
            edges={counted}
            nodeTypes={nodeTypes}
            edgeTypes={edgeTypes}
            onNodesChange={onCanvasNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onInit={setView}
            onNodeDragStart={() => setDragging(true)}
            onNodeDragStop={() => setDragging(false)}
            nodesFocusable
            edgesFocusable
            ariaLabelConfig={ariaLabels}
            fitView
            fitViewOptions={{ maxZoom: 1 }}
            minZoom={0.2}
            deleteKeyCode={null}
          >
            <Background />
            <Controls />
            {/* Beside the node view the canvas is narrow: the map would cover it. */}
            {!current && <MiniMap />}
          </ReactFlow>
        </div>
        {current && (
          // Keyed by the node, so no field keeps what it held for another node.
          <NodeView
            key={current.id}
            nodeId={current.id}
            title={current.data.type?.title ?? current.data.node.type}
            inputs={inputs}
            output={known[current.id] && { value: known[current.id].output, port: known[current.id].port, pinned: !!known[current.id].pinned }}
            steps={current.data.steps}
            pinDenied={pinDenied(current)}
            testDenied={mayNotRun || (dirty ? mayNotSave : "") || undefined}
            onPin={(pin) => updateNode(withPin(current.data.node, pin))}
            onTest={(alone) => void test({ until: current.id, ...(alone ? { pins: pinsToTestAlone(current.id, edges, known, triggerIds) } : {}) })}
            onClose={() => setNodes((ns) => ns.map((n) => (n.selected ? { ...n, selected: false } : n)))}
          >
            <div ref={side} className="node-side">
              <NodePanel
                node={current.data.node}
                type={current.data.type}
                problems={current.data.problems}
                credentials={credentials.data ?? []}
                flows={flows.data ?? []}
                triggerURL={flow.triggers.find((t) => t.node_id === current.id)?.url}
                consumer={brokerTrigger && consumer.isSuccess ? consumer.data : undefined}
                paths={paths}
                previewScope={previewScope}
                preview={(source, scope) => client.evaluate(source, scope)}
                newCredential={
                  !access.can("credentials:write")
                    ? undefined
                    : (kinds, done) => (
                        <NewCredential
                          client={client}
                          types={(credentialTypes.data ?? []).filter((t) => kinds.length === 0 || kinds.includes(t.name))}
                          onCreated={done}
                        />
                      )
                }
                listen={
                  current.data.node.type === "trigger.webhook" ? { listening, captured, start: () => void listen(), denied: mayNotRun } : undefined
                }
                onChange={updateNode}
              />
              <Connections node={current} nodes={nodes} edges={edges} onConnect={onConnect} onRemove={removeEdge} />
            </div>
          </NodeView>
        )}
      </div>
    </section>
  );
}

const categories: [NodeType["category"], string][] = [
  ["trigger", "Triggers"],
  ["flow", "Flow"],
  ["data", "Data"],
  ["action", "Actions"],
];

function Palette({ types, onAdd }: { types: NodeType[]; onAdd: (t: NodeType) => void }) {
  const [search, setSearch] = useState("");
  const q = search.trim().toLowerCase();
  const shown = types.filter((t) => !q || `${t.title} ${t.kind} ${t.summary}`.toLowerCase().includes(q));
  return (
    <aside className="palette" aria-label="Node palette">
      <input type="search" aria-label="Search nodes" placeholder="Search nodes" value={search} onChange={(e) => setSearch(e.target.value)} />
      {categories.map(([category, label]) => {
        const list = shown.filter((t) => t.category === category);
        if (list.length === 0) return null;
        return (
          <div key={category}>
            <h3>{label}</h3>
            {list.map((t) => (
              <button
                type="button"
                key={t.kind}
                title={t.summary}
                data-category={t.category}
                draggable
                onDragStart={(e) => {
                  e.dataTransfer.setData(dragKind, t.kind);
                  e.dataTransfer.effectAllowed = "copy";
                }}
                onClick={() => onAdd(t)}
              >
                <KindIcon name={t.icon} />
                <span className="palette-label">{t.title}</span>
              </button>
            ))}
          </div>
        );
      })}
    </aside>
  );
}
