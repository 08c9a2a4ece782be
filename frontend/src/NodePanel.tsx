import { useState, type ReactNode } from "react";
import { type ConsumerState, type Credential, type Delivery, type FlowNode, type NodeField, type NodeType, type PreviewScope, type Problem } from "./api";
import { CodeField, JSONField, ValuePreview, type CodeFieldProps, type PreviewFn } from "./CodeField";
import { nextFirings } from "./cron";

type Params = Record<string, unknown>;

/** A form that stores a new credential of one of the types. */
export type NewCredentialForm = (types: string[], done: (name: string) => void) => ReactNode;

/** What code fields complete and preview with: the real data they know of. */
interface CodeContext {
  paths: string[];
  scope?: PreviewScope;
  preview?: PreviewFn;
}

/** codeMode is the editor a field's type needs, if any: expressions and
 * templates are code, as is JSON (whose strings may hold templates), and a
 * code node's JavaScript. */
function codeMode(type: string | undefined): "expression" | "template" | "json" | "javascript" | undefined {
  switch (type) {
    case "expression":
    case "template":
      return type;
    case "json":
    case "list":
      return "json";
    case "code":
      return "javascript";
  }
  return undefined;
}

// NodePanel is the form of one node, drawn from its kind's spec: a field
// per parameter, advanced ones folded away, and the server's problems under
// the fields they name.
/** A flow a flow field may name: another flow of the server. */
export type FlowChoice = { id: string; name: string };

export function NodePanel({
  node,
  type,
  problems,
  credentials,
  flows = [],
  triggerURL,
  consumer,
  listen,
  paths = [],
  previewScope,
  preview,
  newCredential,
  onChange,
}: {
  node: FlowNode;
  type?: NodeType;
  problems: Problem[];
  credentials: Credential[];
  /** The flows a flow field may name. */
  flows?: FlowChoice[];
  /** The trigger URL, for a webhook trigger. */
  triggerURL?: string;
  /** For a broker trigger: its consumer's state on the server, or null
   * while the flow is inactive (nothing consumes). */
  consumer?: ConsumerState | null;
  /** For a webhook trigger: wait for the next request to its URL. */
  /** denied says why the caller may not listen (which runs the flow), if so. */
  listen?: { listening: boolean; captured: Delivery | null; start: () => void; denied?: string };
  /** Paths of real data that expression fields complete. */
  paths?: string[];
  /** The sample data that expression and template fields preview with;
   * undefined when there is none yet. */
  previewScope?: PreviewScope;
  /** Evaluates a field for its preview; without it, fields show none. */
  preview?: PreviewFn;
  /** Draws a form that stores a credential of the given types, calling done with its name. */
  newCredential?: NewCredentialForm;
  onChange: (node: FlowNode) => void;
}) {
  const [copied, setCopied] = useState(false);
  const params = node.params ?? {};
  const setParams = (next: Params) => onChange({ ...node, params: next });
  const fields = type?.fields ?? [];
  const basic = fields.filter((f) => !f.advanced);
  const advanced = fields.filter((f) => f.advanced);
  const code: CodeContext = { paths, scope: previewScope, preview };
  const render = (f: NodeField) => (
    <FieldInput
      key={f.name}
      field={f}
      path={`params.${f.name}`}
      value={params[f.name]}
      problems={problems}
      credentials={credentials}
      flows={flows}
      newCredential={newCredential}
      code={code}
      onChange={(v) => setParams(withValue(params, f.name, v))}
    />
  );
  return (
    <aside className="node-panel" aria-label={`Node ${node.id}`}>
      <h3>{type?.title ?? node.type}</h3>
      <p className="help">{type?.summary}</p>
      <p className="node-id">
        id: <code>{node.id}</code>
      </p>
      {triggerURL && (
        <div className="field">
          <label htmlFor="trigger-url">Trigger URL</label>
          <input id="trigger-url" className="mono" readOnly value={triggerURL} onFocus={(e) => e.target.select()} />
          <button
            type="button"
            onClick={() => {
              void navigator.clipboard?.writeText(triggerURL).then(() => setCopied(true));
            }}
          >
            {copied ? "Copied" : "Copy URL"}
          </button>
        </div>
      )}
      {consumer !== undefined && <ConsumerLine consumer={consumer} />}
      {listen && (
        <div className="field">
          <button type="button" onClick={listen.start} disabled={listen.listening || !!listen.denied} title={listen.denied || undefined}>
            {listen.listening ? "Listening… send a request to the URL" : "Listen for test event"}
          </button>
          {listen.captured && (
            <section aria-label="Captured request">
              <small className="help">
                {listen.captured.method} {listen.captured.path} · {listen.captured.status}
                {listen.captured.reason ? `: ${listen.captured.reason}` : ""} · kept as the test payload
              </small>
              <details>
                <summary>Headers</summary>
                <pre className="mono">{JSON.stringify(listen.captured.headers, null, 2)}</pre>
              </details>
              <pre className="mono" aria-label="Captured body">
                {listen.captured.body ?? ""}
              </pre>
            </section>
          )}
        </div>
      )}
      {problems
        .filter((p) => !p.field.startsWith("params."))
        .map((p, i) => (
          <p key={i} role="alert" className="problem">
            {p.field ? `${p.field}: ` : ""}
            {p.message}
          </p>
        ))}
      {basic.map(render)}
      {fields
        .filter((f) => f.type === "cron")
        .map((f) => (
          <CronPreview key={f.name} schedule={String(params[f.name] ?? "")} timezone={params.timezone as string | undefined} />
        ))}
      {advanced.length > 0 && (
        <details>
          <summary>Advanced</summary>
          {advanced.map(render)}
        </details>
      )}
      {type?.category !== "trigger" && (
        <label className="field">
          <span>On error</span>
          <select
            value={node.on_error ?? "fail"}
            onChange={(e) => onChange({ ...node, on_error: e.target.value as FlowNode["on_error"] })}
          >
            <option value="fail">Fail the run</option>
            <option value="continue">Continue</option>
            <option value="route">Route to the error port</option>
          </select>
        </label>
      )}
    </aside>
  );
}

/** withValue sets or, for an emptied field, removes a parameter. */
export function withValue(params: Params, name: string, value: unknown): Params {
  const next = { ...params };
  if (value === undefined || value === "") delete next[name];
  else next[name] = value;
  return next;
}

/** fieldProblems are the problems of a field or of anything inside it. */
function fieldProblems(problems: Problem[], path: string): Problem[] {
  return problems.filter((p) => p.field === path || p.field.startsWith(path + ".") || p.field.startsWith(path + "["));
}

function FieldInput({
  field,
  path,
  value,
  problems,
  credentials,
  flows,
  newCredential,
  code,
  onChange,
}: {
  field: NodeField;
  path: string;
  value: unknown;
  problems: Problem[];
  credentials: Credential[];
  flows: FlowChoice[];
  newCredential?: NewCredentialForm;
  code: CodeContext;
  onChange: (value: unknown) => void;
}) {
  const [creating, setCreating] = useState(false);
  const id = `field-${path.replace(/[^\w]/g, "-")}`;
  const labelId = `${id}-label`;
  const mine = fieldProblems(problems, path);
  const mode = field.secret ? undefined : codeMode(field.type);
  const label = (
    <span>
      {field.label}
      {field.required && <abbr title="required"> *</abbr>}
    </span>
  );
  let input: ReactNode;
  switch (field.type) {
    case "boolean":
      input = <input id={id} type="checkbox" checked={Boolean(value ?? field.default)} onChange={(e) => onChange(e.target.checked)} />;
      break;
    case "integer":
    case "number":
    case "duration":
      input = (
        <input
          id={id}
          type="number"
          value={value === undefined ? "" : String(value)}
          placeholder={field.default === undefined ? "" : String(field.default)}
          onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))}
        />
      );
      break;
    case "select":
      input = (
        <select id={id} value={String(value ?? field.default ?? "")} onChange={(e) => onChange(e.target.value || undefined)}>
          {/* Without a default, nothing chosen shows as nothing chosen: a
              required field left so is refused when the flow is saved. */}
          {field.default === undefined && <option value="">None</option>}
          {field.options?.map((o) => (
            <option key={o.value} value={o.value} title={o.help}>
              {o.label}
            </option>
          ))}
        </select>
      );
      break;
    case "credential": {
      const usable = credentials.filter((c) => !field.credential_types?.length || field.credential_types.includes(c.type));
      input = (
        <select id={id} value={String(value ?? "")} onChange={(e) => onChange(e.target.value || undefined)}>
          <option value="">None</option>
          {usable.map((c) => (
            <option key={c.name} value={c.name}>
              {c.name} ({c.type})
            </option>
          ))}
          {typeof value === "string" && value !== "" && !usable.some((c) => c.name === value) && <option value={value}>{value} (missing)</option>}
        </select>
      );
      if (newCredential) {
        input = (
          <>
            {input}
            <button type="button" aria-expanded={creating} onClick={() => setCreating(!creating)}>
              {creating ? "Cancel new credential" : "New credential"}
            </button>
            {creating &&
              newCredential(field.credential_types ?? [], (name) => {
                setCreating(false);
                onChange(name);
              })}
          </>
        );
      }
      break;
    }
    case "flow":
      input = (
        <select id={id} value={String(value ?? "")} onChange={(e) => onChange(e.target.value || undefined)}>
          <option value="">None</option>
          {flows.map((f) => (
            <option key={f.id} value={f.id}>
              {f.name}
            </option>
          ))}
          {typeof value === "string" && value !== "" && !flows.some((f) => f.id === value) && <option value={value}>{value} (missing)</option>}
        </select>
      );
      break;
    case "map":
      input = <MapInput id={id} value={(value as Record<string, string>) ?? {}} onChange={onChange} items={field.items} code={code} />;
      break;
    case "object":
      return (
        <fieldset className="field">
          <legend>{label}</legend>
          {field.fields?.map((f) => (
            <FieldInput
              key={f.name}
              field={f}
              path={`${path}.${f.name}`}
              value={(value as Params | undefined)?.[f.name]}
              problems={problems}
              credentials={credentials}
              flows={flows}
              newCredential={newCredential}
              code={code}
              onChange={(v) => {
                const next = withValue((value as Params | undefined) ?? {}, f.name, v);
                onChange(Object.keys(next).length ? next : undefined);
              }}
            />
          ))}
          <Problems list={mine.filter((p) => p.field === path)} />
        </fieldset>
      );
    default:
      if (mode === "json") {
        // An absent value shows the default the server applies.
        input = (
          <JSONField
            id={id}
            labelledBy={labelId}
            value={value}
            paths={code.paths}
            placeholder={field.default === undefined ? undefined : JSON.stringify(field.default)}
            onChange={onChange}
          />
        );
        break;
      }
      if (mode === "javascript") {
        // A script runs with the flow, not in a preview.
        input = (
          <CodeField
            mode="javascript"
            id={id}
            labelledBy={labelId}
            value={value === undefined ? "" : String(value)}
            paths={code.paths}
            placeholder={field.placeholder}
            onChange={onChange}
          />
        );
        break;
      }
      if (mode) {
        input = (
          <PreviewedCode
            mode={mode}
            id={id}
            labelledBy={labelId}
            previewId={`${id}-preview`}
            value={value === undefined ? "" : String(value)}
            code={code}
            placeholder={field.placeholder ?? (field.default === undefined ? "" : String(field.default))}
            singleLine={mode === "template" && !field.multiline}
            onChange={onChange}
          />
        );
        break;
      }
      // string, cron: text; cron in a code font.
      input = (
        <input
          id={id}
          type={field.secret ? "password" : "text"}
          className={field.type === "cron" ? "mono" : undefined}
          value={value === undefined ? "" : String(value)}
          placeholder={field.placeholder ?? (field.default === undefined ? "" : String(field.default))}
          onChange={(e) => onChange(e.target.value)}
        />
      );
  }
  return (
    <div className="field">
      {/* A code field's editable element is no form control: it is named
          through aria-labelledby, and a click on its label focuses it. */}
      <label id={labelId} htmlFor={id} onClick={mode ? () => document.getElementById(id)?.focus() : undefined}>
        {label}
      </label>
      {input}
      {field.help && <small className="help">{field.help}</small>}
      <Problems list={mine} />
    </div>
  );
}

function Problems({ list }: { list: Problem[] }) {
  return (
    <>
      {list.map((p, i) => (
        <small key={i} role="alert" className="problem">
          {p.message}
        </small>
      ))}
    </>
  );
}

/** MapInput edits name → value pairs, such as headers or a transform's
 * fields; values that are expressions or templates are code fields. */
function MapInput({ id, value, onChange, items, code }: { id: string; value: Record<string, string>; onChange: (v: unknown) => void; items?: NodeField; code: CodeContext }) {
  const rows = Object.entries(value);
  const set = (next: [string, string][]) => onChange(next.length ? Object.fromEntries(next) : undefined);
  const mode = codeMode(items?.type);
  return (
    <div id={id} className="map-input">
      {rows.map(([k, v], i) => {
        const setValue = (text: string) => set(rows.map((r, j) => (j === i ? [r[0], text] : r)));
        return (
          <div key={i} className="map-row">
            <input aria-label="Name" value={k} onChange={(e) => set(rows.map((r, j) => (j === i ? [e.target.value, r[1]] : r)))} />
            {mode === "expression" || mode === "template" ? (
              <div className="map-value">
                <PreviewedCode
                  mode={mode}
                  label={`Value of ${k}`}
                  previewId={`${id}-${i}-preview`}
                  value={v}
                  code={code}
                  placeholder={items?.placeholder}
                  singleLine={mode === "template"}
                  onChange={setValue}
                />
              </div>
            ) : (
              <input aria-label={`Value of ${k}`} value={v} onChange={(e) => setValue(e.target.value)} />
            )}
            <button type="button" aria-label={`Remove ${k}`} onClick={() => set(rows.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
        );
      })}
      <button type="button" onClick={() => set([...rows, [rows.some(([k]) => k === "") ? `field_${rows.length + 1}` : "", ""]])}>
        Add
      </button>
    </div>
  );
}

/** PreviewedCode is the code field of an expression or a template, with
 * the preview of its value under it when the panel can preview. */
function PreviewedCode({
  mode,
  previewId,
  code,
  value,
  ...field
}: Omit<CodeFieldProps, "mode" | "paths" | "describedBy"> & { mode: "expression" | "template"; previewId: string; code: CodeContext }) {
  return (
    <>
      <CodeField {...field} mode={mode} value={value} paths={code.paths} describedBy={code.preview ? previewId : undefined} />
      {code.preview && <ValuePreview id={previewId} source={value} mode={mode} scope={code.scope} preview={code.preview} />}
    </>
  );
}

/** CronPreview shows when a schedule fires next, so a typo shows at once. */
function CronPreview({ schedule, timezone }: { schedule: string; timezone?: string }) {
  const next = nextFirings(schedule, timezone);
  if (!next) return null;
  return (
    <div className="field" aria-label="Next firings">
      <small className="help">Next firings ({timezone || "UTC"}):</small>
      <ul className="help">
        {next.map((d) => (
          <li key={d.toISOString()}>{d.toLocaleString(undefined, { timeZone: timezone || "UTC", dateStyle: "medium", timeStyle: "medium" })}</li>
        ))}
      </ul>
    </div>
  );
}

/** ConsumerLine says what a broker trigger's consumer is doing. */
function ConsumerLine({ consumer }: { consumer: ConsumerState | null }) {
  const at = (t: string) => new Date(t).toLocaleTimeString();
  let text: string;
  let tone = "";
  switch (consumer?.status) {
    case undefined:
      text = "Not consuming: the flow is inactive. Activate it to take messages.";
      break;
    case "connected":
      text = `Connected since ${at(consumer.since)}.`;
      tone = "ok";
      break;
    case "retrying":
      text = `Retrying: ${consumer.error ?? "the connection failed"}.` + (consumer.retry_at ? ` Next try at ${at(consumer.retry_at)}.` : "");
      tone = "error";
      break;
    case "standby":
      text = "Standby: another instance consumes this trigger; this one takes over if it stops.";
      break;
    default:
      text = "Connecting…";
      tone = "wait";
  }
  return (
    <p className={`consumer ${tone}`} role="status" aria-label="Broker connection">
      {text}
    </p>
  );
}
