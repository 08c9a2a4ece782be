import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ChangeEvent, type FormEvent } from "react";
import { errorMessage, type Client, type FlowDocument, type FlowSummary, type N8nImport } from "./api";
import examples from "./examples.json";
import { N8nImportReport } from "./N8nImport";
import { PageLink } from "./PageLink";
import { useAccess } from "./access";

/** A new flow starts as a webhook trigger, ready for its first node. */
export function newFlowDocument(name: string): FlowDocument {
  return { name, nodes: [{ id: "webhook", type: "trigger.webhook", ui: { x: 0, y: 0 } }], edges: [] };
}

/** The document of a flow as export gives it and import takes it. */
export function exportable(flow: FlowDocument & Partial<FlowSummary>): FlowDocument {
  return {
    name: flow.name,
    ...(flow.settings ? { settings: flow.settings } : {}),
    nodes: flow.nodes,
    edges: flow.edges,
    // The editor's own data (the notes) goes along, as it comes back from the server.
    ...(flow.ui ? { ui: flow.ui } : {}),
  };
}

// FlowsPage lists the flows with their activation and recent runs, and
// creates, imports, exports and deletes them.
export function FlowsPage({ client, onOpen }: { client: Client; onOpen: (id: string) => void }) {
  const queries = useQueryClient();
  const flows = useQuery({ queryKey: ["flows"], queryFn: () => client.listFlows() });
  const [error, setError] = useState("");
  const refresh = () => queries.invalidateQueries({ queryKey: ["flows"] });
  const onError = (err: unknown) => setError(errorMessage(err));
  // Without flows:write every control that changes a flow is disabled, and says why.
  const denied = useAccess().why("flows:write");
  const change = { disabled: !!denied, title: denied || undefined };

  const toggle = useMutation({
    mutationFn: (f: FlowSummary) => client.setActive(f.id, !f.active),
    onSuccess: refresh,
    onError,
  });
  // A flow made here (new, imported, or from an example) opens on its
  // canvas; a duplicate stays in the list beside its original.
  const create = useMutation({
    mutationFn: ({ doc }: { doc: FlowDocument; open: boolean }) => client.createFlow(doc),
    onSuccess: (flow, { open }) => {
      void refresh();
      if (open) onOpen(flow.id);
    },
    onError,
  });
  // An n8n workflow is converted first and saved only once its report is
  // read: the user sees what was left out before the flow exists.
  const [imported, setImported] = useState<N8nImport | null>(null);
  const importN8n = useMutation({
    mutationFn: (workflow: unknown) => client.importN8n(workflow),
    onSuccess: (result) => setImported(result),
    onError,
  });
  const remove = useMutation({
    mutationFn: (id: string) => client.deleteFlow(id),
    onSuccess: refresh,
    onError,
  });

  // rename saves the flow under a new name, as a new version.
  async function rename(f: FlowSummary) {
    const name = window.prompt(`Rename "${f.name}" to`, f.name)?.trim();
    if (!name || name === f.name) return;
    try {
      const full = await client.getFlow(f.id);
      await client.updateFlow(f.id, { ...exportable(full), name });
      void refresh();
    } catch (err) {
      onError(err);
    }
  }

  async function duplicate(f: FlowSummary) {
    try {
      const full = await client.getFlow(f.id);
      create.mutate({ doc: { ...exportable(full), name: `${f.name} (copy)` }, open: false });
    } catch (err) {
      onError(err);
    }
  }

  async function exportFlow(f: FlowSummary) {
    try {
      const full = await client.getFlow(f.id);
      const blob = new Blob([JSON.stringify(exportable(full), null, 2)], { type: "application/json" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `${f.name.replace(/[^\w.-]+/g, "_")}.json`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (err) {
      onError(err);
    }
  }

  if (flows.isPending) return <p aria-busy="true">Loading flows…</p>;
  if (flows.isError) {
    return (
      <p role="alert">
        {errorMessage(flows.error)}{" "}
        <button type="button" onClick={() => void flows.refetch()}>
          Try again
        </button>
      </p>
    );
  }
  return (
    <section aria-labelledby="flows-title">
      <h2 id="flows-title">Flows</h2>
      <NewFlow
        onCreate={(doc) => create.mutate({ doc, open: true })}
        onImportN8n={(workflow) => importN8n.mutate(workflow)}
        onError={setError}
        denied={denied}
      />
      {error && (
        <p role="alert">
          {error}{" "}
          <button type="button" onClick={() => setError("")}>
            Dismiss
          </button>
        </p>
      )}
      {imported && (
        <N8nImportReport
          result={imported}
          denied={denied}
          saving={create.isPending}
          onSave={() => create.mutate({ doc: imported.flow, open: true }, { onSuccess: () => setImported(null) })}
          onCancel={() => setImported(null)}
        />
      )}
      {flows.data.length > 0 && (
        <details className="examples">
          <summary>New from example</summary>
          <Examples onPick={(doc) => create.mutate({ doc, open: true })} denied={denied} />
        </details>
      )}
      {flows.data.length === 0 ? (
        <div>
          <p>No flows yet. Create one above, import a flow's JSON, or start from an example:</p>
          <Examples onPick={(doc) => create.mutate({ doc, open: true })} denied={denied} />
        </div>
      ) : (
        <table aria-label="Flows">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Active</th>
              <th scope="col">Last run</th>
              <th scope="col">Runs (24 h)</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {flows.data.map((f) => (
              <tr key={f.id}>
                <td>
                  <PageLink to={`/flows/${f.id}`} onGo={() => onOpen(f.id)}>
                    {f.name}
                  </PageLink>{" "}
                  <small>v{f.version}</small>
                </td>
                <td>
                  <input
                    type="checkbox"
                    role="switch"
                    aria-label={`Active: ${f.name}`}
                    checked={f.active}
                    disabled={toggle.isPending || !!denied}
                    title={denied || undefined}
                    onChange={() => toggle.mutate(f)}
                  />
                </td>
                <td>{f.stats?.last_run ? <span data-status={f.stats.last_run.status}>{f.stats.last_run.status}</span> : "never"}</td>
                <td>{f.stats?.runs_24h ?? 0}</td>
                <td>
                  <button type="button" onClick={() => void rename(f)} {...change}>
                    Rename
                  </button>{" "}
                  <button type="button" onClick={() => void duplicate(f)} {...change}>
                    Duplicate
                  </button>{" "}
                  <button type="button" onClick={() => void exportFlow(f)}>
                    Export
                  </button>{" "}
                  <button
                    type="button"
                    {...change}
                    onClick={() => {
                      if (
                        window.confirm(
                          `Delete the flow "${f.name}"? Its trigger stops at once. Its runs and deliveries stay readable until retention prunes them.`,
                        )
                      )
                        remove.mutate(f.id);
                    }}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Examples offers the example flows; picking one makes a flow of it. */
function Examples({ onPick, denied }: { onPick: (doc: FlowDocument) => void; denied: string }) {
  return (
    <ul aria-label="Examples">
      {examples.map((e) => (
        <li key={e.title}>
          <button type="button" onClick={() => onPick(e.flow as FlowDocument)} disabled={!!denied} title={denied || undefined}>
            {e.title}
          </button>
        </li>
      ))}
    </ul>
  );
}

/** chosenFile is the file picked in a file input, which it clears so the
 * same file can be picked again; null when none was. */
function chosenFile(event: ChangeEvent<HTMLInputElement>): File | null {
  const chosen = event.target.files?.[0] ?? null;
  event.target.value = "";
  return chosen;
}

function NewFlow({
  onCreate,
  onImportN8n,
  onError,
  denied,
}: {
  onCreate: (doc: FlowDocument) => void;
  onImportN8n: (workflow: unknown) => void;
  onError: (message: string) => void;
  denied: string;
}) {
  const [name, setName] = useState("");
  function submit(event: FormEvent) {
    event.preventDefault();
    if (name.trim() === "") return;
    onCreate(newFlowDocument(name.trim()));
    setName("");
  }

  async function importFile(event: ChangeEvent<HTMLInputElement>) {
    const chosen = chosenFile(event);
    if (!chosen) return;
    try {
      const doc = JSON.parse(await chosen.text()) as FlowDocument;
      onCreate(exportable(doc));
    } catch (err) {
      onError(`${chosen.name} is not a flow's JSON: ${errorMessage(err)}`);
    }
  }

  // The server says whether the JSON is an n8n workflow; here it need only be JSON.
  async function importN8nFile(event: ChangeEvent<HTMLInputElement>) {
    const chosen = chosenFile(event);
    if (!chosen) return;
    try {
      onImportN8n(JSON.parse(await chosen.text()));
    } catch (err) {
      onError(`${chosen.name} is not JSON: ${errorMessage(err)}`);
    }
  }

  return (
    <form onSubmit={submit} aria-label="Create a flow">
      <label htmlFor="new-flow-name">New flow</label>{" "}
      <input
        id="new-flow-name"
        value={name}
        onChange={(e) => setName(e.target.value)}
        placeholder="Stripe payment to Slack"
        maxLength={200}
        disabled={!!denied}
        aria-describedby={denied ? "new-flow-denied" : undefined}
      />{" "}
      <button type="submit" disabled={!!denied} title={denied || undefined}>
        Create
      </button>{" "}
      <label htmlFor="import-flow">Import JSON</label>{" "}
      <input
        id="import-flow"
        type="file"
        accept="application/json,.json"
        onChange={(e) => void importFile(e)}
        disabled={!!denied}
        aria-describedby={denied ? "new-flow-denied" : undefined}
      />{" "}
      <label htmlFor="import-n8n">Import from n8n</label>{" "}
      <input
        id="import-n8n"
        type="file"
        accept="application/json,.json"
        onChange={(e) => void importN8nFile(e)}
        disabled={!!denied}
        aria-describedby={denied ? "new-flow-denied" : undefined}
      />
      {denied && (
        <small id="new-flow-denied" className="help">
          {denied}
        </small>
      )}
    </form>
  );
}
