import type { components, operations } from "./api.gen";

// One typed client for the Hookflow API. Every call goes through request(),
// which turns error answers into ApiError with the server's message and, for
// an invalid flow, its problems.

// The API's types are generated from the OpenAPI document the server serves
// (api.gen.ts, by make api-types, checked by make test); these are the
// editor's names for them.
type Schemas = components["schemas"];
type JSONBody<R> = R extends { content: { "application/json": infer T } } ? T : never;

/** One thing wrong with a flow, placed on its node and field. */
export type Problem = Schemas["Problem"];
export type Trigger = Schemas["Trigger"];
export type ConsumerState = Schemas["ConsumerState"];
type FlowSchema = Schemas["Flow"];
/** A flow as lists show it: without its nodes, edges and settings. */
export type FlowSummary = Omit<FlowSchema, "nodes" | "edges" | "settings" | "test_payload">;
/** A node of a flow. Its type is one of the kinds /node-types lists, which
 * the editor learns at run time, so it is any string here. */
export type FlowNode = Omit<Schemas["FlowNode"], "type"> & { type: string };
export type FlowEdge = Schemas["FlowEdge"];
/** A flow's own options, beside its nodes. */
export type FlowSettings = Schemas["FlowSettings"];
/** A flow document as saved: name, settings, nodes and edges. */
export type FlowDocument = Omit<Schemas["FlowDocument"], "nodes"> & { nodes: FlowNode[] };
/** A flow at one version, with its document (single flows carry their graph). */
export type Flow = FlowSummary & Pick<FlowSchema, "settings" | "ui" | "test_payload"> & { nodes: FlowNode[]; edges: FlowEdge[] };
/** The editor's own data about a flow, such as its sticky notes; runs never read it. */
export type FlowUI = Schemas["FlowUI"];
/** A sticky note on the canvas (the flow's ui.notes). */
export type FlowNote = Schemas["FlowNote"];
/** A node's output pinned in the editor (its ui.pin, or a test's pins): test
 * runs use it instead of running the node; port only for kinds with ports. */
export type NodePin = Schemas["NodePin"];
type TestRequest = NonNullable<JSONBody<NonNullable<operations["testFlow"]["requestBody"]>>>;
/** What narrows one test run: the node it stops after, and outputs pinned
 * for this test only (over the nodes' own ui.pin). */
export type TestOptions = Pick<TestRequest, "until" | "pins">;
/** One saved version of a flow. */
export type FlowVersion = Schemas["FlowVersion"];
export type RunStatus = Schemas["RunStatus"];
export type Step = Schemas["Step"];
export type Run = Schemas["Run"];
export type RunFilter = NonNullable<operations["listRuns"]["parameters"]["query"]>;
export type DeliveryFilter = NonNullable<operations["listDeliveries"]["parameters"]["query"]>;
type EvaluateRequest = NonNullable<JSONBody<NonNullable<operations["evaluateExpression"]["requestBody"]>>>;
/** What an expression or template preview sees; every part optional. */
export type PreviewScope = NonNullable<EvaluateRequest["scope"]>;
/** The value of a previewed expression or template. */
export type Preview = JSONBody<operations["evaluateExpression"]["responses"][200]>;
/** What an n8n import did, node by node and expression by expression. */
export type N8nReport = Schemas["N8nImportReport"];
/** An n8n workflow converted: the flow document, not yet saved, and its report. */
export type N8nImport = { flow: FlowDocument; report: N8nReport };
export type Credential = Schemas["Credential"];
/** One parameter of a node kind, as the server describes it. */
export type NodeField = Schemas["Field"];
/** A node kind of the catalogue. */
export type NodeType = Schemas["NodeType"];
/** A kind of credential and the fields of its data. */
export type CredentialType = Schemas["CredentialType"];
/** A request to a trigger URL, whatever became of it. */
export type Delivery = Schemas["Delivery"];
type SessionInfo = Schemas["SessionInfo"];
/** How a signed-in caller is authenticated, as whom, and what they may do. */
export type Session = Omit<SessionInfo, "via" | "role"> & { via: Exclude<SessionInfo["via"], "anonymous">; role: Schemas["Role"] };
export type Role = Schemas["Role"];
/** One thing a caller may do, also a token's scope. */
export type Permission = Schemas["Permission"];
export type User = Schemas["User"];
/** One of a user's logins to the editor. */
export type UserSession = Schemas["UserSession"];
/** An invitation not yet accepted. */
export type Invitation = Schemas["Invitation"];
/** An invitation as made, with its link (shown once). */
export type NewInvitation = Schemas["NewInvitation"];
/** What the holder of an invitation's token learns before accepting it. */
export type InvitationLookup = Schemas["InvitationLookup"];
export type ApiToken = Schemas["ApiToken"];
/** An API token as made, with the token itself (shown once). */
export type NewApiToken = Schemas["NewApiToken"];
export type AuditEvent = Schemas["AuditEvent"];
export type AuditFilter = NonNullable<operations["listAudit"]["parameters"]["query"]>;
type AcceptRequest = JSONBody<operations["acceptInvitation"]["requestBody"]>;
type TokenRequest = JSONBody<operations["createToken"]["requestBody"]>;
type UserChange = JSONBody<operations["updateUser"]["requestBody"]>;

/** errorMessage is what the editor shows of any failure: the server's
 * message for an ApiError, followed by the problems it does not already say
 * (activating an invalid flow from the list says only how many), or the
 * message of any other Error. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    const untold = err.problems.filter((p) => !err.message.includes(p.message));
    const problems = untold.map((p) => `${p.node ? `node ${p.node}, ` : ""}${p.field}: ${p.message}`);
    return problems.length > 0 ? `${err.message}: ${problems.join("; ")}` : err.message;
  }
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

  /** Trades a user's email and password for the session cookie, which the
   * browser keeps. Too many failures answer 429, whose message says when to
   * try again. */
  async login(email: string, password: string): Promise<{ expires_at: string }> {
    return this.request("POST", "/api/v1/session", { email, password });
  }

  /** Trades the admin token for the session cookie (a user's API token
   * opens no session: it goes in the Authorization header). */
  async loginWithToken(token: string): Promise<{ expires_at: string }> {
    return this.request("POST", "/api/v1/session", { token });
  }

  /** Ends the session; the server clears the cookie. */
  async logout(): Promise<void> {
    await this.request<void>("DELETE", "/api/v1/session");
  }

  /** Says how the caller is logged in and what they may do; null when no
   * one is (the server answers via "anonymous"), and an ApiError with
   * status 401 when the session ended or the token is wrong. */
  async session(): Promise<Session | null> {
    const info = await this.request<SessionInfo>("GET", "/api/v1/session");
    return info.via === "anonymous" ? null : (info as Session);
  }

  /** Looks an invitation up by its token: 404 unknown, 410 used or expired. */
  async lookupInvitation(token: string): Promise<InvitationLookup> {
    return this.request("POST", "/api/v1/invitation", { token });
  }

  /** Accepts an invitation: the user is made and logged in (the cookie is set). */
  async acceptInvitation(accept: AcceptRequest): Promise<User> {
    const body = await this.request<{ user: User }>("POST", "/api/v1/invitation/accept", accept);
    return body.user;
  }

  /** The caller's own live sessions. */
  async listSessions(): Promise<UserSession[]> {
    const body = await this.request<{ sessions: UserSession[] }>("GET", "/api/v1/sessions");
    return body.sessions;
  }

  async revokeSession(id: string): Promise<void> {
    await this.request<void>("DELETE", `/api/v1/sessions/${encodeURIComponent(id)}`);
  }

  /** Ends every session of the caller's, this one too. */
  async logoutEverywhere(): Promise<void> {
    await this.request<void>("DELETE", "/api/v1/sessions");
  }

  /** Changes the caller's password; their other sessions end. */
  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    await this.request<void>("PUT", "/api/v1/me/password", { current_password: currentPassword, new_password: newPassword });
  }

  async listUsers(): Promise<User[]> {
    const body = await this.request<{ users: User[] }>("GET", "/api/v1/users");
    return body.users;
  }

  /** Changes a user's role or name. */
  async updateUser(id: string, change: UserChange): Promise<User> {
    return this.request("PATCH", `/api/v1/users/${encodeURIComponent(id)}`, change);
  }

  async removeUser(id: string): Promise<void> {
    await this.request<void>("DELETE", `/api/v1/users/${encodeURIComponent(id)}`);
  }

  async listInvitations(): Promise<Invitation[]> {
    const body = await this.request<{ invitations: Invitation[] }>("GET", "/api/v1/invitations");
    return body.invitations;
  }

  /** Invites someone; the answer's url is shown this once. */
  async createInvitation(email: string, role: Role): Promise<NewInvitation> {
    return this.request("POST", "/api/v1/invitations", { email, role });
  }

  async revokeInvitation(id: string): Promise<void> {
    await this.request<void>("DELETE", `/api/v1/invitations/${encodeURIComponent(id)}`);
  }

  /** The caller's API tokens; everyone's with all (needs users:read). */
  async listTokens(all = false): Promise<ApiToken[]> {
    const body = await this.request<{ tokens: ApiToken[] }>("GET", all ? "/api/v1/tokens?all=true" : "/api/v1/tokens");
    return body.tokens;
  }

  /** Makes an API token for the caller; the answer's token is shown this once. */
  async createToken(token: TokenRequest): Promise<NewApiToken> {
    return this.request("POST", "/api/v1/tokens", token);
  }

  async revokeToken(id: string): Promise<void> {
    await this.request<void>("DELETE", `/api/v1/tokens/${encodeURIComponent(id)}`);
  }

  /** A page of the audit log, newest first. */
  async listAudit(filter: AuditFilter = {}): Promise<JSONBody<operations["listAudit"]["responses"][200]>> {
    return this.request("GET", withQuery("/api/v1/audit", filter));
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

  /** Converts an n8n workflow export into a flow document and its report;
   * nothing is saved (createFlow saves the document). What is not an n8n
   * workflow is an ApiError 400 saying why. */
  async importN8n(workflow: unknown): Promise<N8nImport> {
    return this.request("POST", "/api/v1/import/n8n", workflow);
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

  /** Runs the flow once with the payload and answers the finished run.
   * The outputs pinned in the flow's nodes, and options.pins over them,
   * stand in for those nodes; with options.until only that node and the
   * nodes upstream of it run. Options that do not fit the flow are an
   * ApiError 422 with its problems. */
  async testFlow(id: string, payload: unknown, headers: Record<string, string> = {}, options: TestOptions = {}): Promise<Run> {
    return this.request("POST", `/api/v1/flows/${encodeURIComponent(id)}/test`, { payload, headers, ...options });
  }

  async listRuns(filter: RunFilter = {}): Promise<{ runs: Run[]; next_cursor?: string }> {
    return this.request("GET", withQuery("/api/v1/runs", filter));
  }

  async listDeliveries(filter: DeliveryFilter = {}): Promise<{ deliveries: Delivery[]; next_cursor?: string }> {
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

  /** The latest request the flow's trigger took, or null when none yet (204). */
  async getSample(flowId: string): Promise<Delivery | null> {
    const sample = await this.request<Delivery | undefined>("GET", `/api/v1/flows/${encodeURIComponent(flowId)}/sample`);
    return sample ?? null;
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
