import type { N8nImport, N8nReport } from "./api";

type NodeStatus = N8nReport["nodes"][number]["status"];

const statusLabels: Record<NodeStatus, string> = {
  converted: "Converted",
  caveats: "Converted with caveats",
  not_converted: "Not converted",
};

/** counts sums up a report as the command line does: nodes by status,
 * expressions by outcome. */
export function counts(report: N8nReport) {
  const of = (status: NodeStatus) => report.nodes.filter((n) => n.status === status).length;
  const translated = report.expressions.filter((e) => e.translated).length;
  return {
    converted: of("converted"),
    caveats: of("caveats"),
    notConverted: of("not_converted"),
    translated,
    untranslated: report.expressions.length - translated,
  };
}

/** N8nImportReport shows what an n8n import did before anything is saved:
 * every node and expression, the credentials to create, and, for a flow
 * that is not valid, why it cannot be saved (the server would refuse it). */
export function N8nImportReport({
  result,
  denied,
  saving,
  onSave,
  onCancel,
}: {
  result: N8nImport;
  denied: string;
  saving: boolean;
  onSave: () => void;
  onCancel: () => void;
}) {
  const { report } = result;
  const c = counts(report);
  const refusal = denied || (report.valid ? "" : "The flow is not valid, so it cannot be saved: fix these in n8n and import it again.");
  return (
    <section aria-labelledby="n8n-report-title" className="n8n-report">
      <h3 id="n8n-report-title">Import from n8n: {result.flow.name}</h3>
      <p>
        Nodes: {c.converted} converted, {c.caveats} with caveats, {c.notConverted} not converted. Expressions: {c.translated} translated,{" "}
        {c.untranslated} not translated.
      </p>
      <h4>Nodes</h4>
      <table aria-label="Nodes">
        <thead>
          <tr>
            <th scope="col">n8n node</th>
            <th scope="col">Hookflow node</th>
            <th scope="col">Status</th>
            <th scope="col">Reasons</th>
          </tr>
        </thead>
        <tbody>
          {report.nodes.map((n) => (
            <tr key={n.name}>
              <td>
                {n.name} <small>{n.type}</small>
              </td>
              <td>{n.id ? `${n.id} (${n.kind})` : "none"}</td>
              <td>{statusLabels[n.status]}</td>
              <td>
                <Items items={n.reasons ?? []} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {report.expressions.length > 0 && (
        <>
          <h4>Expressions</h4>
          <table aria-label="Expressions">
            <thead>
              <tr>
                <th scope="col">Where</th>
                <th scope="col">n8n</th>
                <th scope="col">Hookflow</th>
              </tr>
            </thead>
            <tbody>
              {report.expressions.map((e, i) => (
                <tr key={i}>
                  <td>
                    {e.node} <small>{e.field}</small>
                  </td>
                  <td>
                    <code>{e.original}</code>
                  </td>
                  <td>{e.translated ? <code>{e.result}</code> : `Not translated: ${e.reason}`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {report.credentials.length > 0 && (
        <>
          <h4>Credentials to create</h4>
          <p>n8n exports carry no secrets: create these on the Credentials page before activating the flow.</p>
          <Items
            items={report.credentials.map(
              (cr) => `${cr.name} of type ${cr.type} (n8n ${cr.n8n_type}${cr.n8n_name ? ` "${cr.n8n_name}"` : ""}, used by ${cr.node})`,
            )}
          />
        </>
      )}
      {(report.notes ?? []).length > 0 && (
        <>
          <h4>Notes</h4>
          <Items items={report.notes ?? []} />
        </>
      )}
      {!report.valid && (
        <>
          <h4>Not valid</h4>
          <Items items={(report.problems ?? []).map((p) => `${p.node ? `node ${p.node}, ` : ""}${p.field}: ${p.message}`)} />
        </>
      )}
      <p>
        <button type="button" onClick={onSave} disabled={!!refusal || saving} aria-describedby={refusal ? "n8n-save-refused" : undefined}>
          Save as a new flow
        </button>{" "}
        <button type="button" onClick={onCancel}>
          Cancel
        </button>{" "}
        {refusal && (
          <small id="n8n-save-refused" className="help">
            {refusal}
          </small>
        )}
      </p>
    </section>
  );
}

function Items({ items }: { items: string[] }) {
  if (items.length === 0) return null;
  return (
    <ul>
      {items.map((item, i) => (
        <li key={i}>{item}</li>
      ))}
    </ul>
  );
}
