import { act } from "react";
import { describe, expect, it, vi } from "vitest";
import { mounted } from "./testing";
import type { Credential, FlowNode, NodeType } from "./api";
import { NodePanel, withValue } from "./NodePanel";


const httpType: NodeType = {
  kind: "http.request",
  category: "action",
  title: "HTTP request",
  summary: "Calls an HTTP API.",
  ports: null,
  pure: false,
  fields: [
    { name: "method", type: "select", label: "Method", default: "GET", options: [{ value: "GET", label: "GET" }, { value: "POST", label: "POST" }] },
    { name: "url", type: "string", label: "URL", required: true },
    { name: "headers", type: "map", label: "Headers", items: { name: "value", type: "string", label: "Value" } },
    { name: "credential", type: "credential", label: "Authentication", credential_types: ["http_bearer"] },
    { name: "body", type: "json", label: "Body" },
    { name: "request_timeout_ms", type: "duration", label: "Request timeout", advanced: true, default: 30000 },
  ],
};

const credentials: Credential[] = [
  { name: "api", type: "http_bearer", created_at: "", updated_at: "", used_by: [] },
  { name: "slack", type: "slack", created_at: "", updated_at: "", used_by: [] },
];

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
    act(() => setInput(ctx.container.querySelector("#field-params-url")!, "https://api.example/{{ input.id }}"));
    expect(onChange).toHaveBeenLastCalledWith({ id: "call", type: "http.request", params: { url: "https://api.example/{{ input.id }}" } });

    act(() => setInput(ctx.container.querySelector("#field-params-method")!, "POST"));
    expect(onChange.mock.lastCall![0].params.method).toBe("POST");

    act(() => setInput(ctx.container.querySelector("#field-params-body")!, '{"order": "{{ input.id }}"}'));
    expect(onChange.mock.lastCall![0].params.body).toEqual({ order: "{{ input.id }}" });
    const calls = onChange.mock.calls.length;
    act(() => setInput(ctx.container.querySelector("#field-params-body")!, '{"order": '));
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

  it("drops emptied params", () => {
    expect(withValue({ a: 1, b: 2 }, "a", "")).toEqual({ b: 2 });
    expect(withValue({ a: 1 }, "b", 0)).toEqual({ a: 1, b: 0 });
  });
});
