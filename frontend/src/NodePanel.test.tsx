import { language } from "@codemirror/language";
import { EditorView, runScopeHandlers } from "@codemirror/view";
import { act } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { mounted } from "./testing";
import type { ConsumerState, Credential, FlowNode, NodeType, Preview } from "./api";
import { previewDelayMs } from "./CodeField";
import { NodePanel, withValue } from "./NodePanel";


const httpType: NodeType = {
  kind: "http.request",
  category: "action",
  icon: "globe",
  title: "HTTP request",
  summary: "Calls an HTTP API.",
  ports: [],
  schema: {},
  pure: false,
  fields: [
    { name: "method", type: "select", label: "Method", default: "GET", options: [{ value: "GET", label: "GET" }, { value: "POST", label: "POST" }] },
    { name: "url", type: "template", label: "URL", required: true },
    { name: "headers", type: "map", label: "Headers", items: { name: "value", type: "template", label: "Value" } },
    { name: "credential", type: "credential", label: "Authentication", credential_types: ["http_bearer"] },
    { name: "body", type: "json", label: "Body" },
    { name: "request_timeout_ms", type: "duration", label: "Request timeout", advanced: true, default: 30000 },
  ],
};

const credentials: Credential[] = [
  { name: "api", type: "http_bearer", created_at: "", updated_at: "", used_by: [] },
  { name: "slack", type: "slack", created_at: "", updated_at: "", used_by: [] },
];

// db.write's fields: plain names, and expressions.
const dbType: NodeType = {
  kind: "db.write",
  category: "action",
  icon: "database",
  title: "Database write",
  summary: "Writes a row.",
  ports: [],
  schema: {},
  pure: false,
  fields: [
    { name: "table", type: "string", label: "Table", required: true },
    { name: "values", type: "map", label: "Values", items: { name: "value", type: "expression", label: "Value" } },
    { name: "where", type: "expression", label: "Where" },
    { name: "conflict", type: "list", label: "Conflict columns", items: { name: "column", type: "string", label: "Column" } },
    { name: "renamed", type: "map", label: "Renamed columns", items: { name: "to", type: "string", label: "To" } },
  ],
};

/** setCode replaces a code field's text, as typing would. */
function setCode(el: Element, text: string) {
  const view = EditorView.findFromDOM(el as HTMLElement)!;
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, userEvent: "input.type" });
}

function setInput(el: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, value: string) {
  const proto = el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, "value")!.set!.call(el, value);
  el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? "change" : "input", { bubbles: true }));
}

describe("NodePanel", () => {
  const ctx = mounted();

  function renderPanel(node: FlowNode, onChange: (n: FlowNode) => void, problems = [] as { node: string; field: string; message: string }[]) {
    act(() => ctx.root.render(<NodePanel node={node} type={httpType} problems={problems} credentials={credentials} onChange={onChange} />));
  }

  it("draws a field per parameter, with advanced ones folded away", () => {
    renderPanel({ id: "call", type: "http.request" }, () => {});
    const labels = [...ctx.container.querySelectorAll("label")].map((l) => l.textContent);
    expect(labels).toEqual(expect.arrayContaining(["Method", "URL *", "Headers", "Authentication", "Body", "Request timeout"]));
    expect(ctx.container.querySelector("details")?.textContent).toContain("Request timeout");
    expect(ctx.container.querySelector("details")?.hasAttribute("open")).toBe(false);
    expect(ctx.container.querySelector<HTMLSelectElement>("#field-params-method")!.value).toBe("GET");
  });

  it("edits params by field type", () => {
    const onChange = vi.fn();
    renderPanel({ id: "call", type: "http.request", params: { url: "https://x.example" } }, onChange);
    act(() => setCode(ctx.container.querySelector("#field-params-url")!, "https://api.example/{{ input.id }}"));
    expect(onChange).toHaveBeenLastCalledWith({ id: "call", type: "http.request", params: { url: "https://api.example/{{ input.id }}" } });

    act(() => setInput(ctx.container.querySelector("#field-params-method")!, "POST"));
    expect(onChange.mock.lastCall![0].params.method).toBe("POST");

    act(() => setCode(ctx.container.querySelector("#field-params-body")!, '{"order": "{{ input.id }}"}'));
    expect(onChange.mock.lastCall![0].params.body).toEqual({ order: "{{ input.id }}" });
    const calls = onChange.mock.calls.length;
    act(() => setCode(ctx.container.querySelector("#field-params-body")!, '{"order": '));
    expect(onChange.mock.calls.length, "text that is not JSON yet changes nothing").toBe(calls);
    expect(ctx.container.textContent).toContain("not JSON yet");
  });

  it("offers only credentials of the types the field takes", () => {
    renderPanel({ id: "call", type: "http.request" }, () => {});
    const options = [...ctx.container.querySelectorAll<HTMLOptionElement>("#field-params-credential option")].map((o) => o.value);
    expect(options).toEqual(["", "api"]);
  });

  it("shows the server's problems under their fields", () => {
    renderPanel({ id: "call", type: "http.request" }, () => {}, [
      { node: "call", field: "params.url", message: "must start with http:// or https://" },
      { node: "call", field: "", message: "is not reachable" },
    ]);
    const url = ctx.container.querySelector("#field-params-url")!.closest(".field")!;
    expect(url.querySelector('[role="alert"]')?.textContent).toBe("must start with http:// or https://");
    expect(ctx.container.querySelector(".node-panel > [role=alert]")?.textContent).toBe("is not reachable");
  });

  it("draws expressions, templates and JSON as code fields, and plain text as inputs", () => {
    act(() =>
      ctx.root.render(
        <NodePanel
          node={{ id: "save", type: "db.write", params: { values: { email: "input.email" }, renamed: { a: "b" } } }}
          type={dbType}
          problems={[]}
          credentials={[]}
          onChange={() => {}}
        />,
      ),
    );
    const code = (el: Element | null) => el?.classList.contains("cm-content") && el.getAttribute("contenteditable") === "true";
    expect(ctx.container.querySelector("#field-params-table")?.tagName).toBe("INPUT");
    expect(code(ctx.container.querySelector("#field-params-where")), "an expression").toBe(true);
    expect(code(ctx.container.querySelector("#field-params-conflict")), "a list is JSON").toBe(true);
    expect(code(ctx.container.querySelector('[aria-label="Value of email"]')), "a map of expressions").toBe(true);
    expect(ctx.container.querySelector('[aria-label="Value of a"]')?.tagName, "a map of strings").toBe("INPUT");
    expect(ctx.container.querySelector("datalist"), "completion is the editor's").toBeNull();

    // The editable element is named by the field's label.
    const where = ctx.container.querySelector("#field-params-where")!;
    expect(document.getElementById(where.getAttribute("aria-labelledby")!)?.textContent).toBe("Where");
    renderPanel({ id: "call", type: "http.request" }, () => {});
    expect(code(ctx.container.querySelector("#field-params-url")), "a template").toBe(true);
    expect(code(ctx.container.querySelector("#field-params-body")), "JSON").toBe(true);
  });

  it("shows a new node's values in its code fields", () => {
    renderPanel({ id: "call", type: "http.request", params: { url: "https://a.example", body: { a: 1 } } }, () => {});
    renderPanel({ id: "call", type: "http.request", params: { url: "https://b.example/{{ input.id }}", body: { b: 2 } } }, () => {});
    expect(ctx.container.querySelector("#field-params-url")?.textContent).toBe("https://b.example/{{ input.id }}");
    expect(EditorView.findFromDOM(ctx.container.querySelector("#field-params-body")!)!.state.doc.toString()).toBe('{\n  "b": 2\n}');
  });

  it("drops emptied params", () => {
    expect(withValue({ a: 1, b: 2 }, "a", "")).toEqual({ b: 2 });
    expect(withValue({ a: 1 }, "b", 0)).toEqual({ a: 1, b: 0 });
  });
});

// The webhook trigger's verification and methods: a required select without
// a default inside an optional object, and a list with a default.
const hookType: NodeType = {
  kind: "trigger.webhook",
  category: "trigger",
  icon: "webhook",
  title: "Webhook",
  summary: "Starts the flow on an HTTP request.",
  ports: [],
  schema: {},
  pure: true,
  fields: [
    { name: "methods", type: "list", label: "HTTP methods", default: ["POST"], items: { name: "method", type: "select", label: "Method" } },
    {
      name: "verify",
      type: "object",
      label: "Verify sender",
      fields: [
        { name: "scheme", type: "select", label: "Scheme", required: true, options: [{ value: "github", label: "GitHub" }, { value: "stripe", label: "Stripe" }] },
        { name: "credential", type: "credential", label: "Credential", credential_types: ["secret"] },
      ],
    },
  ],
};

describe("NodePanel shows what is set, and the defaults", () => {
  const ctx = mounted();

  it("shows a select with no value and no default as None, not as its first choice", () => {
    act(() => ctx.root.render(<NodePanel node={{ id: "hook", type: "trigger.webhook" }} type={hookType} problems={[]} credentials={[]} onChange={() => {}} />));
    const scheme = ctx.container.querySelector<HTMLSelectElement>("#field-params-verify-scheme")!;
    expect(scheme.value).toBe("");
    expect(scheme.selectedOptions[0].textContent).toBe("None");
    const credential = ctx.container.querySelector<HTMLSelectElement>("#field-params-verify-credential")!;
    expect(credential.selectedOptions[0].textContent).toBe("None");
    // One with a default shows the default chosen.
    act(() => ctx.root.render(<NodePanel node={{ id: "call", type: "http.request" }} type={httpType} problems={[]} credentials={[]} onChange={() => {}} />));
    const method = ctx.container.querySelector<HTMLSelectElement>("#field-params-method")!;
    expect(method.value).toBe("GET");
    expect([...method.options].map((o) => o.textContent)).not.toContain("None");
  });

  it("shows a list's default in its empty box", () => {
    act(() => ctx.root.render(<NodePanel node={{ id: "hook", type: "trigger.webhook" }} type={hookType} problems={[]} credentials={[]} onChange={() => {}} />));
    const methods = ctx.container.querySelector("#field-params-methods")!;
    expect(methods.querySelector(".cm-placeholder")?.textContent).toBe('["POST"]');
  });
});

describe("NodePanel previews", () => {
  const ctx = mounted();
  afterEach(() => vi.useRealTimers());
  const scope = { trigger: { body: { amount: 5, email: "ada@example.com" } }, steps: {} };

  it("previews expression and template fields, map values included, with the sample data", async () => {
    vi.useFakeTimers();
    const preview = vi.fn(async (source: { expression: string } | { template: string }): Promise<Preview> => {
      if ("template" in source) return { value: "https://api.example/5" };
      if (source.expression === "trigger.body.email") return { value: "ada@example.com" };
      return { value: 10 };
    });
    await ctx.render(
      <NodePanel
        node={{ id: "save", type: "db.write", params: { table: "payments", values: { email: "trigger.body.email" }, where: "trigger.body.amount * 2" } }}
        type={dbType}
        problems={[]}
        credentials={[]}
        previewScope={scope}
        preview={preview}
        onChange={() => {}}
      />,
    );
    await act(async () => vi.advanceTimersByTime(previewDelayMs));
    expect(preview).toHaveBeenCalledWith({ expression: "trigger.body.amount * 2" }, scope);
    expect(preview).toHaveBeenCalledWith({ expression: "trigger.body.email" }, scope);
    expect(preview, "not the table name, nor JSON").toHaveBeenCalledTimes(2);
    // Each preview describes its field.
    const previewOf = (selector: string) => document.getElementById(ctx.container.querySelector(selector)!.getAttribute("aria-describedby")!)?.textContent;
    expect(previewOf("#field-params-where")).toBe("10");
    expect(previewOf('[aria-label="Value of email"]')).toBe('"ada@example.com"');

    await ctx.render(
      <NodePanel
        node={{ id: "call", type: "http.request", params: { url: "https://api.example/{{ trigger.body.amount }}" } }}
        type={httpType}
        problems={[]}
        credentials={[]}
        previewScope={scope}
        preview={preview}
        onChange={() => {}}
      />,
    );
    await act(async () => vi.advanceTimersByTime(previewDelayMs));
    expect(preview).toHaveBeenLastCalledWith({ template: "https://api.example/{{ trigger.body.amount }}" }, scope);
    expect(previewOf("#field-params-url")).toBe('"https://api.example/5"');
  });

  it("says how to get sample data when there is none", async () => {
    const preview = vi.fn();
    await ctx.render(
      <NodePanel node={{ id: "save", type: "db.write", params: { where: "trigger.body.amount > 1" } }} type={dbType} problems={[]} credentials={[]} preview={preview} onChange={() => {}} />,
    );
    expect(ctx.container.querySelector("#field-params-where")!.closest(".field")!.textContent).toContain("Run a test or listen for an event");
    expect(preview).not.toHaveBeenCalled();
  });
});

describe("NodePanel code fields", () => {
  const ctx = mounted();
  const codeType: NodeType = {
    kind: "code",
    category: "data",
    icon: "code",
    title: "Code",
    summary: "Runs JavaScript.",
    ports: [],
    schema: {},
    pure: true,
    fields: [{ name: "code", type: "code", label: "JavaScript", required: true, multiline: true, placeholder: "return input" }],
  };

  it("draws a code field as a JavaScript editor of many lines, without a preview", () => {
    const onChange = vi.fn();
    act(() =>
      ctx.root.render(
        <NodePanel
          node={{ id: "calc", type: "code", params: { code: "return input.total * 2" } }}
          type={codeType}
          problems={[]}
          credentials={[]}
          paths={["input.total"]}
          preview={vi.fn()}
          onChange={onChange}
        />,
      ),
    );
    const content = ctx.container.querySelector("#field-params-code")!;
    expect(content.classList.contains("cm-content")).toBe(true);
    expect(content.closest(".code-field-javascript")).not.toBeNull();
    const view = EditorView.findFromDOM(content as HTMLElement)!;
    expect(view.state.facet(language)?.name).toBe("javascript");
    expect(view.state.doc.toString()).toBe("return input.total * 2");
    expect(ctx.container.querySelector(".cm-lineNumbers"), "errors name lines").not.toBeNull();
    expect(document.getElementById(content.getAttribute("aria-labelledby")!)?.textContent).toBe("JavaScript *");

    act(() => setCode(content, "const total = input.total\nreturn { double: total * 2 }"));
    expect(onChange).toHaveBeenLastCalledWith({ id: "calc", type: "code", params: { code: "const total = input.total\nreturn { double: total * 2 }" } });
    // Enter breaks the line, as in any editor of code.
    act(() => {
      view.dispatch({ selection: { anchor: view.state.doc.length } });
      runScopeHandlers(view, new KeyboardEvent("keydown", { key: "Enter" }), "editor");
    });
    expect(view.state.doc.lines).toBe(3);
    expect(ctx.container.querySelector(".preview, .preview-hint"), "a script is not previewed").toBeNull();
  });
});

describe("NodePanel of a broker trigger", () => {
  const ctx = mounted();
  const redisType: NodeType = {
    kind: "trigger.redis",
    category: "trigger",
    icon: "layers",
    title: "Redis stream",
    summary: "Starts the flow for each entry of a stream.",
    ports: [],
    schema: {},
    pure: true,
    fields: [{ name: "stream", type: "string", label: "Stream", required: true }],
  };
  const base = { flow_id: "f", node_id: "orders", broker: "redis" as const, credential: "cache", since: "2026-12-04T18:00:00Z" };

  function line(consumer: ConsumerState | null | undefined) {
    act(() =>
      ctx.root.render(
        <NodePanel node={{ id: "orders", type: "trigger.redis" }} type={redisType} problems={[]} credentials={[]} consumer={consumer} onChange={() => {}} />,
      ),
    );
    return ctx.container.querySelector('[aria-label="Broker connection"]')?.textContent ?? null;
  }

  it("says what its connection is doing", () => {
    expect(line({ ...base, status: "connected" })).toMatch(/^Connected since /);
    expect(line({ ...base, status: "retrying", error: "dial tcp 10.0.0.7:6379: connection refused", retry_at: "2026-12-04T18:00:05Z" })).toMatch(
      /^Retrying: dial tcp 10\.0\.0\.7:6379: connection refused\. Next try at /,
    );
    expect(line({ ...base, status: "standby" })).toContain("another instance consumes");
    expect(line({ ...base, status: "connecting" })).toBe("Connecting…");
    expect(line(null)).toContain("the flow is inactive");
    expect(line(undefined), "a node that is no broker trigger has no such line").toBeNull();
  });
});
