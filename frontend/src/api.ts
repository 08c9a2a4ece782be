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
  created_at: string;
  updated_at: string;
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
  token: string;
  baseURL?: string;
  fetch?: typeof fetch;
}

export class Client {
  private readonly token: string;
  private readonly baseURL: string;
  private readonly fetcher: typeof fetch;

  constructor(options: ClientOptions) {
    this.token = options.token;
    this.baseURL = options.baseURL ?? "";
    this.fetcher = options.fetch ?? fetch.bind(globalThis);
  }

  async listFlows(): Promise<FlowSummary[]> {
    const body = await this.request<{ flows: FlowSummary[] }>("GET", "/api/v1/flows");
    return body.flows;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await this.fetcher(this.baseURL + path, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
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
