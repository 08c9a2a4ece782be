import { act } from "react";
import { describe, expect, it, vi } from "vitest";
import { mounted } from "./testing";
import type { N8nImport } from "./api";
import { N8nImportReport } from "./N8nImport";

const converted: N8nImport = {
  flow: { name: "Orders", nodes: [{ id: "webhook", type: "trigger.webhook" }], edges: [] },
  report: {
    nodes: [
      { name: "Webhook", type: "n8n-nodes-base.webhook", id: "webhook", kind: "trigger.webhook", status: "caveats", reasons: ["the n8n path is not kept"] },
      { name: "Post", type: "n8n-nodes-base.httpRequest", id: "post", kind: "http.request", status: "converted" },
      { name: "Sheet", type: "n8n-nodes-base.googleSheets", status: "not_converted", reasons: ["no Hookflow equivalent for n8n-nodes-base.googleSheets"] },
    ],
    expressions: [{ node: "Post", field: "url", original: "={{ $json.url }}", translated: true, result: "trigger.body.url" }],
    credentials: [{ name: "Partner-login", type: "http_basic", n8n_name: "Partner login", n8n_type: "httpBasicAuth", node: "Post" }],
    notes: ["a note about the flow"],
    valid: true,
  },
};

const invalid: N8nImport = {
  flow: converted.flow,
  report: {
    ...converted.report,
    expressions: [{ node: "Post", field: "url", original: "={{ $getWorkflowStaticData('global').x }}", translated: false, reason: "$getWorkflowStaticData is not supported" }],
    valid: false,
    problems: [{ node: "post", field: "params.url", message: "unknown name n8n" }],
  },
};

describe("N8nImportReport", () => {
  const ctx = mounted();

  async function show(result: N8nImport, denied = "") {
    const onSave = vi.fn();
    const onCancel = vi.fn();
    await ctx.render(<N8nImportReport result={result} denied={denied} saving={false} onSave={onSave} onCancel={onCancel} />);
    const save = [...ctx.container.querySelectorAll("button")].find((b) => b.textContent === "Save as a new flow")!;
    return { onSave, onCancel, save };
  }

  const rows = (label: string) =>
    [...ctx.container.querySelectorAll(`table[aria-label="${label}"] tbody tr`)].map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent));

  it("shows the counts, every node, expression and credential, and saves", async () => {
    const { onSave, save } = await show(converted);
    expect(ctx.container.querySelector("h3")?.textContent).toBe("Import from n8n: Orders");
    expect(ctx.container.textContent).toContain("Nodes: 1 converted, 1 with caveats, 1 not converted. Expressions: 1 translated, 0 not translated.");
    expect(rows("Nodes")).toEqual([
      ["Webhook n8n-nodes-base.webhook", "webhook (trigger.webhook)", "Converted with caveats", "the n8n path is not kept"],
      ["Post n8n-nodes-base.httpRequest", "post (http.request)", "Converted", ""],
      ["Sheet n8n-nodes-base.googleSheets", "none", "Not converted", "no Hookflow equivalent for n8n-nodes-base.googleSheets"],
    ]);
    expect(rows("Expressions")).toEqual([["Post url", "={{ $json.url }}", "trigger.body.url"]]);
    expect(ctx.container.textContent).toContain('Partner-login of type http_basic (n8n httpBasicAuth "Partner login", used by Post)');
    expect(ctx.container.textContent).toContain("a note about the flow");
    expect(save.disabled).toBe(false);
    act(() => save.click());
    expect(onSave).toHaveBeenCalledOnce();
  });

  it("disables saving a flow that is not valid, with the problems", async () => {
    const { onSave, onCancel, save } = await show(invalid);
    expect(rows("Expressions")).toEqual([["Post url", "={{ $getWorkflowStaticData('global').x }}", "Not translated: $getWorkflowStaticData is not supported"]]);
    expect(save.disabled).toBe(true);
    const why = document.getElementById(save.getAttribute("aria-describedby")!);
    expect(why?.textContent).toContain("not valid, so it cannot be saved");
    expect(ctx.container.textContent).toContain("node post, params.url: unknown name n8n");
    act(() => save.click());
    expect(onSave).not.toHaveBeenCalled();
    act(() => [...ctx.container.querySelectorAll("button")].find((b) => b.textContent === "Cancel")!.click());
    expect(onCancel).toHaveBeenCalledOnce();
  });

  it("says why one without flows:write cannot save", async () => {
    const { save } = await show(converted, "this needs the permission flows:write");
    expect(save.disabled).toBe(true);
    expect(document.getElementById(save.getAttribute("aria-describedby")!)?.textContent).toBe("this needs the permission flows:write");
  });
});
