// One typed client for the Hookflow API. Every call goes through request(),
// which turns error answers into ApiError with the server's message and, for
// an invalid flow, its problems.

/** One thing wrong with a flow, placed on its node and field. */
export interface Problem {
  node: string;
  field: string;
  message: string;
}

export interface Trigger {
  node_id: string;
  type: string;
  url?: string;
}

export interface FlowSummary {
  id: string;
  name: string;
  version: number;
  active: boolean;
  triggers: Trigger[];
  /** In lists only. */
  stats?: { last_run: { id: string; status: RunStatus; created_at: string } | null; runs_24h: number };
  created_at: string;
  updated_at: string;
}

/** errorMessage is what the editor shows of any failure: the server's
 * message for an ApiError, the message of any other Error. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An error answer of the API, or a failure to reach it (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly problems: Problem[];

  constructor(status: number, message: string, problems: Problem[] = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.problems = problems;
  }
}

/** A flow at one version, with its document. */
export interface Flow extends FlowSummary {
  settings?: FlowSettings;
  nodes: FlowNode[];
  edges: FlowEdge[];
  /** The payload and headers of the flow's last test run, kept by the server. */
  test_payload?: { payload?: unknown; headers?: Record<string, string> };
}

/** A flow's own options, beside its nodes. */
export interface FlowSettings {
  /** The most runs of the flow in flight at once, across every instance;
   * absent or 0: no limit. */
  concurrency?: number;
}

export interface FlowNode {
  id: string;
  type: string;
  params?: Record<string, unknown>;
  ui?: Record<string, unknown>;
  retry?: { max_attempts: number; backoff_ms?: number; max_backoff_ms?: number };
  timeout_ms?: number;
  on_error?: "fail" | "continue" | "route";
}

export interface FlowEdge {
  from: string;
  to: string;
  port?: string;
}

/** One saved version of a flow, as version lists show it. */
export interface FlowVersion {
  flow_id: string;
  version: number;
  name: string;
  created_at: string;
}

/** A flow document as saved: name, settings, nodes and edges. */
export interface FlowDocument {
  name: string;
  settings?: FlowSettings;
  nodes: FlowNode[];
  edges: FlowEdge[];
}

export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "canceled";

export interface Step {
  node_id: string;
  iteration?: string;
  attempt: number;
  status: "running" | "succeeded" | "failed" | "skipped";
  input?: unknown;
  output?: unknown;
  error?: string;
  port?: string | null;
  logs?: { time: string; level: string; msg: string; attrs?: Record<string, unknown> }[];
  interrupted?: boolean;
  resume_at?: string;
  started_at: string;
  duration_ms: number;
}

export interface Run {
  id: string;
  flow_id: string;
  /** The flow's name now; flow_deleted when it was deleted since. */
  flow_name: string;
  flow_deleted?: boolean;
  flow_version: number;
  status: RunStatus;
  trigger: { type: string; delivery_id?: string; data?: unknown };
  error?: string;
  replay_of?: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  steps?: Step[];
}

export interface RunFilter {
  flow_id?: string;
  status?: RunStatus;
  /** RFC 3339 times: runs created at or after since, and before until. */
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

/** What an expression or template preview sees; every part optional. */
export interface PreviewScope {
  trigger?: unknown;
  steps?: Record<string, unknown>;
  input?: unknown;
  item?: unknown;
  index?: number;
}

/** The value of a previewed expression or template. */
export interface Preview {
  value: unknown;
  /** The value's JSON was too long and value holds its first 64 KiB as text. */
  truncated?: boolean;
}

export interface Credential {
  name: string;
  type: string;
  created_at: string;
  updated_at: string;
  used_by: { id: string; name: string }[];
}

/** One parameter of a node kind, as the server describes it. */
export interface NodeField {
  name: string;
  /** The widget it takes: "string" (plain text, used as written),
   * "template" (text whose {{ expr }} placeholders are rendered when the
   * node runs), "expression" (expr source), "json" (any JSON, whose strings
   * may hold templates), "list" and "map" (of items), "object" (of fields),
   * "select", "number", "integer", "boolean", "duration" (ms), "cron",
   * "credential". */
  type: string;
  label: string;
  help?: string;
  required?: boolean;
  default?: unknown;
  options?: { value: string; label: string; help?: string }[];
  secret?: boolean;
  advanced?: boolean;
  credential_types?: string[];
  fields?: NodeField[];
  items?: NodeField;
  placeholder?: string;
  /** The text takes line breaks (a message's text); other text fields are one line. */
  multiline?: boolean;
}

/** A node kind of the catalogue. */
export interface NodeType {
  kind: string;
  category: "trigger" | "flow" | "data" | "action";
  title: string;
  summary: string;
  fields: NodeField[];
  ports: string[] | null;
  ports_from?: string;
  pure: boolean;
}

/** A kind of credential and the fields of its data. */
export interface CredentialType {
  name: string;
  title: string;
  summary: string;
  fields: NodeField[];
}

/** A request to a trigger URL, whatever became of it. */
export interface Delivery {
  id: string;
  flow_id: string;
  flow_name: string;
  flow_deleted?: boolean;
  status: "accepted" | "rejected" | "duplicate" | "captured";
  reason?: string;
  http_status: number;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  content_type: string;
  /** In single deliveries: the body as text, or base64 when body_encoding says so. */
  body?: string;
  body_encoding?: "text" | "base64";
  body_truncated?: boolean;
  body_size: number;
  dedupe_key?: string;
  run_id?: string;
  received_at: string;
  /** What expressions see as trigger; in single deliveries that were accepted or captured. */
  trigger?: { body?: unknown } & Record<string, unknown>;
  trigger_error?: string;
}

/** How the caller is authenticated. */
export interface Session {
  via: "session" | "token";
  expires_at?: string;
}

export interface ClientOptions {
  /** An API token for scripts and tests; without one, the editor's session cookie is used. */
  token?: string;
  baseURL?: string;
  fetch?: typeof fetch;
}

/** withQuery adds the filter's set fields to a path as its query. */
function withQuery(path: string, filter: object): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filter) as [string, unknown][]) {
    if (value !== undefined && value !== "") query.set(key, String(value));
  }
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

export class Client {
  private readonly token?: string;
  private readonly baseURL: string;
  private readonly fetcher: typeof fetch;

  constructor(options: ClientOptions = {}) {
    this.token = options.token;
    this.baseURL = options.baseURL ?? "";
    // Looked up on each call, so a page (or test) that replaces fetch is heard.
    this.fetcher = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Trades the admin token for the session cookie, which the browser keeps. */
  async login(token: string): Promise<{ expires_at: string }> {
    return this.request("POST", "/api/v1/session", { token });
  }

  /** Ends the session; the server clears the cookie. */
  async logout(): Promise<void> {
    await this.request<void>("DELETE", "/api/v1/session");
  }

  /** Says how the caller is logged in; an ApiError with status 401 when not. */
  async session(): Promise<Session> {
    return this.request("GET", "/api/v1/session");
  }

  async listFlows(): Promise<FlowSummary[]> {
    const body = await this.request<{ flows: FlowSummary[] }>("GET", "/api/v1/flows");
    return body.flows;
  }

  async getFlow(id: string): Promise<Flow> {
    return this.request("GET", `/api/v1/flows/${encodeURIComponent(id)}`);
  }

  async createFlow(doc: FlowDocument): Promise<Flow> {
    return this.request("POST", "/api/v1/flows", doc);
  }

  /** Saves a new version of the flow. */
  async updateFlow(id: string, doc: FlowDocument): Promise<Flow> {
    return this.request("PUT", `/api/v1/flows/${encodeURIComponent(id)}`, doc);
  }

  async listVersions(id: string): Promise<FlowVersion[]> {
    const body = await this.request<{ versions: FlowVersion[] }>("GET", `/api/v1/flows/${encodeURIComponent(id)}/versions`);
    return body.versions;
  }

  async getVersion(id: string, version: number): Promise<FlowDocument & { version: number }> {
    return this.request("GET", `/api/v1/flows/${encodeURIComponent(id)}/versions/${version}`);
  }

  async deleteFlow(id: string): Promise<void> {
    await this.request<void>("DELETE", `/api/v1/flows/${encodeURIComponent(id)}`);
  }

  async setActive(id: string, active: boolean): Promise<Flow> {
    return this.request("POST", `/api/v1/flows/${encodeURIComponent(id)}/${active ? "activate" : "deactivate"}`);
  }

  /** Runs the flow once with the payload and answers the finished run. */
  async testFlow(id: string, payload: unknown, headers: Record<string, string> = {}): Promise<Run> {
    return this.request("POST", `/api/v1/flows/${encodeURIComponent(id)}/test`, { payload, headers });
  }

  async listRuns(filter: RunFilter = {}): Promise<{ runs: Run[]; next_cursor?: string }> {
    return this.request("GET", withQuery("/api/v1/runs", filter));
  }

  async listDeliveries(
    filter: { flow_id?: string; status?: string; since?: string; until?: string; cursor?: string } = {},
  ): Promise<{ deliveries: Delivery[]; next_cursor?: string }> {
    return this.request("GET", withQuery("/api/v1/deliveries", filter));
  }

  async getDelivery(id: string): Promise<Delivery> {
    return this.request("GET", `/api/v1/deliveries/${encodeURIComponent(id)}`);
  }

  /** Waits (up to two minutes) for the next request to the flow's trigger; null when none came. */
  async listen(flowId: string, waitMs = 120_000): Promise<Delivery | null> {
    const got = await this.request<Delivery | undefined>(
      "POST",
      `/api/v1/flows/${encodeURIComponent(flowId)}/listen?wait_ms=${waitMs}`,
    );
    return got ?? null;
  }

  /** The latest request the flow's trigger took, or null when none yet. */
  async getSample(flowId: string): Promise<Delivery | null> {
    try {
      return await this.request("GET", `/api/v1/flows/${encodeURIComponent(flowId)}/sample`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }

  async getRun(id: string): Promise<Run> {
    return this.request("GET", `/api/v1/runs/${encodeURIComponent(id)}`);
  }

  /** Runs the flow again with the same trigger data; answers the new run. */
  async replayRun(id: string): Promise<Run> {
    return this.request("POST", `/api/v1/runs/${encodeURIComponent(id)}/replay`, {});
  }

  async cancelRun(id: string): Promise<Run> {
    return this.request("POST", `/api/v1/runs/${encodeURIComponent(id)}/cancel`);
  }

  async listNodeTypes(): Promise<NodeType[]> {
    const body = await this.request<{ node_types: NodeType[] }>("GET", "/api/v1/node-types");
    return body.node_types;
  }

  async listCredentialTypes(): Promise<CredentialType[]> {
    const body = await this.request<{ credential_types: CredentialType[] }>("GET", "/api/v1/credential-types");
    return body.credential_types;
  }

  /** Stores a credential; its data is write-only and never comes back. */
  async createCredential(name: string, type: string, data: Record<string, unknown>): Promise<Credential> {
    return this.request("POST", "/api/v1/credentials", { name, type, data });
  }

  /** Replaces a credential's data (and type); the name stays. */
  async updateCredential(name: string, type: string, data: Record<string, unknown>): Promise<Credential> {
    return this.request("PUT", `/api/v1/credentials/${encodeURIComponent(name)}`, { type, data });
  }

  /** Evaluates an expression (or renders a template) against sample data.
   * A source that does not compile or fails on the data is an ApiError
   * (422) whose message says why. */
  async evaluate(source: { expression: string } | { template: string }, scope: PreviewScope): Promise<Preview> {
    return this.request("POST", "/api/v1/expressions/evaluate", { ...source, scope });
  }

  async deleteCredential(name: string): Promise<void> {
    await this.request<void>("DELETE", `/api/v1/credentials/${encodeURIComponent(name)}`);
  }

  async listCredentials(): Promise<Credential[]> {
    const body = await this.request<{ credentials: Credential[] }>("GET", "/api/v1/credentials");
    return body.credentials;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await this.fetcher(this.baseURL + path, {
        method,
        headers: {
          ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}),
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        // The session cookie goes with requests to the editor's own origin.
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, `cannot reach the server: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ApiError(response.status, `unexpected answer (${response.status}): ${text.slice(0, 200)}`);
      }
    }
    if (!response.ok) {
      const err = (parsed ?? {}) as { error?: string; problems?: Problem[] };
      throw new ApiError(response.status, err.error ?? `request failed with ${response.status}`, err.problems ?? []);
    }
    return parsed as T;
  }
}
