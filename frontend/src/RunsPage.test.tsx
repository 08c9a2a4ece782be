import { act, useState } from "react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { mounted } from "./testing";
import { Client, type Step } from "./api";
import { chosenNode, DeliveriesPage, deliveryOutcome, RunSteps, RunsPage, RunView, stepsOfNode, utc, type ListFilters } from "./RunsPage";

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

async function settle() {
  for (let i = 0; i < 5; i++) await act(async () => new Promise((r) => setTimeout(r, 0)));
}

function setValue(el: HTMLInputElement, value: string) {
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!.call(el, value);
  el.dispatchEvent(new Event("input", { bubbles: true }));
}

const step = (node_id: string, attempt = 1, status: Step["status"] = "succeeded"): Step => ({
  node_id,
  attempt,
  status,
  port: status === "succeeded" ? "" : null,
  output: { from: node_id, attempt },
  logs: [],
  started_at: "2026-07-01T10:00:00Z",
  duration_ms: 3,
});

/** Filtered holds a list page's filters as the URL would. */
function Filtered({ what, client }: { what: "runs" | "deliveries"; client: Client }) {
  const [filters, setFilters] = useState<ListFilters>({ flow: "", status: "", from: "", to: "" });
  return what === "runs" ? (
    <RunsPage client={client} filters={filters} onFilters={setFilters} onOpen={() => {}} />
  ) : (
    <DeliveriesPage client={client} filters={filters} onFilters={setFilters} onOpen={() => {}} onOpenRun={() => {}} />
  );
}

describe("RunSteps", () => {
  const ctx = mounted();
  const steps = [step("hook"), step("amount", 1, "failed"), step("amount", 2), step("notify")];

  const items = () => [...ctx.container.querySelectorAll("li.step")].map((li) => `${li.getAttribute("data-step")}`);

  it("lists every step when no node is chosen", async () => {
    await ctx.render(<RunSteps steps={steps} node={null} onShowAll={() => {}} />);
    expect(items()).toEqual(["hook", "amount", "amount", "notify"]);
    expect(ctx.container.querySelector("h3")?.textContent).toBe("Steps");
    expect(ctx.container.textContent).not.toContain("Show all steps");
  });

  it("narrows to the chosen node's attempts, with a way back to all", async () => {
    const onShowAll = vi.fn();
    await ctx.render(<RunSteps steps={steps} node="amount" onShowAll={onShowAll} />);
    expect(items()).toEqual(["amount", "amount"]);
    expect(ctx.container.querySelector("h3")?.textContent).toBe("Steps of amount");
    expect(ctx.container.querySelector("ol")?.classList.contains("narrowed")).toBe(true);
    expect(ctx.container.textContent).toContain("Showing 2 of 4 step records: those of amount.");
    const all = [...ctx.container.querySelectorAll("button")].find((b) => b.textContent === "Show all steps")!;
    await act(async () => all.click());
    expect(onShowAll).toHaveBeenCalledOnce();
  });

  it("says so when the chosen node did not run", async () => {
    await ctx.render(<RunSteps steps={steps} node="save" onShowAll={() => {}} />);
    expect(items()).toEqual([]);
    expect(ctx.container.textContent).toContain("No step records for save: the run did not reach it.");
  });

  it("keeps each step's place in the run", () => {
    expect(stepsOfNode(steps, "amount").map((s) => s.index)).toEqual([1, 2]);
    expect(stepsOfNode(steps, null)).toHaveLength(4);
  });

  it("follows the canvas's selection: a node chosen, and unchosen", () => {
    expect(chosenNode([{ type: "select", id: "amount", selected: true }], null)).toBe("amount");
    // Choosing another unselects the first in the same changes.
    expect(chosenNode([{ type: "select", id: "amount", selected: false }, { type: "select", id: "notify", selected: true }], "amount")).toBe("notify");
    expect(chosenNode([{ type: "select", id: "amount", selected: false }], "amount"), "Escape, or a click on the pane").toBeNull();
    expect(chosenNode([{ type: "dimensions", id: "amount" }], "amount"), "other changes keep the choice").toBe("amount");
  });
});

describe("RunsPage time filter", () => {
  const ctx = mounted();
  // Half an hour off UTC, so a time sent unconverted cannot pass.
  beforeEach(() => {
    vi.stubEnv("TZ", "Asia/Kolkata");
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it.each([
    ["runs", "/api/v1/runs", { runs: [], next_cursor: null }],
    ["deliveries", "/api/v1/deliveries", { deliveries: [], next_cursor: null }],
  ] as const)("sends From and To of the %s as UTC times, and asks again when they change", async (what, path, empty) => {
    const asked: URLSearchParams[] = [];
    const fetch = async (input: string) => {
      if (input === "/api/v1/flows") return json(200, { flows: [] });
      if (input.startsWith(path)) {
        asked.push(new URL(input, "http://x").searchParams);
        return json(200, empty);
      }
      return json(404, { error: "not here" });
    };
    const queries = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    await ctx.render(
      <QueryClientProvider client={queries}>
        <Filtered what={what} client={new Client({ fetch: fetch as typeof globalThis.fetch })} />
      </QueryClientProvider>,
    );
    await settle();
    expect(asked).toHaveLength(1);
    expect(asked[0].has("since") || asked[0].has("until")).toBe(false);

    const from = ctx.container.querySelector<HTMLInputElement>(`#${what}-from`)!;
    const to = ctx.container.querySelector<HTMLInputElement>(`#${what}-to`)!;
    expect(ctx.container.querySelector(`label[for="${what}-from"]`)?.textContent).toBe("From");
    expect(ctx.container.querySelector(`label[for="${what}-to"]`)?.textContent).toBe("To");
    expect(from.type).toBe("datetime-local");
    await act(async () => setValue(from, "2026-07-01T10:30:15"));
    await settle();
    await act(async () => setValue(to, "2026-07-01T12:00"));
    await settle();
    const last = asked.at(-1)!;
    expect(last.get("since")).toBe("2026-07-01T05:00:15.000Z");
    expect(last.get("until")).toBe("2026-07-01T06:30:00.000Z");
    expect(asked).toHaveLength(3);

    await act(async () => setValue(from, ""));
    await settle();
    expect(asked.at(-1)!.has("since"), "a cleared time filters nothing").toBe(false);
    expect(asked.at(-1)!.get("until")).toBe("2026-07-01T06:30:00.000Z");
  });

  it("converts only whole times", () => {
    expect(utc("")).toBeUndefined();
    expect(utc("2026-07-01T00:00")).toBe("2026-06-30T18:30:00.000Z");
  });
});

describe("deliveryOutcome", () => {
  const base = { id: "d1", flow_id: "f1", flow_name: "f", http_status: 202, method: "POST", path: "/", query: "", headers: {}, content_type: "", body_size: 0, received_at: "" };
  it("says what became of each kind of delivery", () => {
    expect(deliveryOutcome({ ...base, status: "accepted" })).toBe("Accepted and answered 202; it started a run.");
    expect(deliveryOutcome({ ...base, status: "rejected", http_status: 404, reason: "the flow is not active" })).toBe(
      "Rejected with 404: the flow is not active.",
    );
    expect(deliveryOutcome({ ...base, status: "duplicate", http_status: 200 })).toContain("A repeat of an earlier delivery");
    expect(deliveryOutcome({ ...base, status: "captured", http_status: 200 })).toContain("Captured");
    const message = { ...base, method: "REDIS", path: "orders", http_status: 0 };
    expect(deliveryOutcome({ ...message, status: "accepted" })).toBe("A message, recorded, then acknowledged to the broker; it started a run.");
    expect(deliveryOutcome({ ...message, status: "duplicate" })).toContain("A repeat of an earlier message");
    expect(deliveryOutcome({ ...message, status: "rejected", reason: "body is not valid JSON" })).toBe("Refused: body is not valid JSON; it started no run.");
  });
});

describe("RunView", () => {
  const ctx = mounted();
  afterEach(() => vi.unstubAllGlobals());

  it("shows every step again on Escape, wherever the focus went, but not from a form control", async () => {
    const run = {
      id: "r1", flow_id: "f1", flow_name: "f", flow_version: 1, status: "succeeded", trigger: { type: "test" },
      created_at: "2026-07-01T10:00:00Z", started_at: null, finished_at: null, duration_ms: null, steps: [step("hook"), step("big")],
    };
    vi.stubGlobal("fetch", async () => json(200, run));
    const onNode = vi.fn();
    const queries = new QueryClient();
    await act(async () =>
      ctx.root.render(
        <QueryClientProvider client={queries}>
          <RunView client={new Client()} runId="r1" node="big" onNode={onNode} onOpen={() => {}} onClose={() => {}} />
          <input aria-label="elsewhere" />
        </QueryClientProvider>,
      ),
    );
    await settle();
    const input = ctx.container.querySelector<HTMLInputElement>('[aria-label="elsewhere"]')!;
    act(() => void input.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true })));
    expect(onNode).not.toHaveBeenCalled();
    act(() => void document.body.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true })));
    expect(onNode).toHaveBeenCalledWith(null);
  });
});
