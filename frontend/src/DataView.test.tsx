import { act } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DataView } from "./DataView";
import { pathType } from "./dataview";
import type { Step } from "./api";
import { StepView } from "./StepView";
import { mounted, setValue } from "./testing";

/** panel is the view's panel, named by its label. */
function panel(container: HTMLElement, label: string): HTMLElement {
  const found = container.querySelector<HTMLElement>(`[aria-label="${label}"]`);
  expect(found, `the panel "${label}" is drawn`).not.toBeNull();
  return found!;
}

/** tab is the view's tab of that name. */
function tab(container: HTMLElement, name: string): HTMLElement {
  return [...container.querySelectorAll<HTMLElement>('[role="tab"]')].find((t) => t.textContent === name)!;
}

/** field is the draggable field of that path. */
function field(container: HTMLElement, path: string): HTMLElement {
  const found = container.querySelector<HTMLElement>(`[role="button"][title^=${JSON.stringify(`${path} —`)}]`);
  expect(found, `the field ${path} is drawn`).not.toBeNull();
  return found!;
}

/** key presses a key on an element, as the keyboard would. */
function key(el: HTMLElement, name: string) {
  act(() => void el.dispatchEvent(new KeyboardEvent("keydown", { key: name, bubbles: true, cancelable: true })));
}

/** A DataTransfer for jsdom, which has none. */
function transfer() {
  const data = new Map<string, string>();
  return { data, setData: (type: string, value: string) => data.set(type, value), getData: (type: string) => data.get(type) ?? "", effectAllowed: "" };
}

describe("DataView", () => {
  const ctx = mounted();
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("shows an object as JSON whose text is the value, in its labelled panel", async () => {
    const value = { total: 42, customer: { name: "Ada", tags: ["a", "b"] }, note: null, ok: true, none: {} };
    await ctx.render(<DataView value={value} path="steps.sum" label="Output of sum" />);
    expect(tab(ctx.container, "JSON").getAttribute("aria-selected")).toBe("true");
    const output = panel(ctx.container, "Output of sum");
    expect(output.getAttribute("role")).toBe("tabpanel");
    expect(JSON.parse(output.textContent!)).toEqual(value);
    const lines = [...output.querySelectorAll(".dataview-line")].map((l) => l.textContent);
    expect(lines).toContain('"name": "Ada",');
  });

  it("opens a list of objects as a table, with a column per key", async () => {
    const orders = [
      { id: 1, item: "book", lines: [1, 2, 3] },
      { id: 2, "gift-wrap": true, customer: { a: 1, b: 2 } },
    ];
    await ctx.render(<DataView value={orders} path="trigger.body" label="Sample" />);
    expect(tab(ctx.container, "Table").getAttribute("aria-selected")).toBe("true");
    const table = panel(ctx.container, "Sample").querySelector("table")!;
    const headers = [...table.querySelectorAll("thead th")];
    expect(headers.map((h) => h.textContent)).toEqual(["#", "id", "item", "lines", "gift-wrap", "customer"]);
    expect(headers.every((h) => h.getAttribute("scope") === "col")).toBe(true);
    expect(field(ctx.container, 'trigger.body[0]["gift-wrap"]').textContent).toBe("gift-wrap");
    const rows = [...table.querySelectorAll("tbody tr")].map((r) => [...r.children].map((c) => c.textContent));
    expect(rows).toEqual([
      ["0", "1", "book", "[3 items]", "", ""],
      ["1", "2", "", "", "true", "{2 keys}"],
    ]);
    expect(field(ctx.container, "trigger.body[1].customer").textContent, "a cell of row 1 has its own path").toBe("{2 keys}");
  });

  it("says when a list is empty, and when there is no data yet", async () => {
    await ctx.render(<DataView value={[]} path="input" label="Input" initialMode="table" />);
    expect(panel(ctx.container, "Input").textContent).toBe("An empty list");
    await ctx.render(<DataView value={undefined} path="input" label="Input" />);
    expect(panel(ctx.container, "Input").textContent).toBe("No data yet — run a test or capture a sample");
    expect(ctx.container.querySelector('[role="tablist"]')).toBeNull();
  });

  it("moves between its tabs with the arrow keys", async () => {
    await ctx.render(<DataView value={{ a: 1 }} path="input" label="Input" />);
    const json = tab(ctx.container, "JSON");
    expect(json.tabIndex).toBe(0);
    expect(tab(ctx.container, "Table").tabIndex).toBe(-1);
    key(json, "ArrowRight");
    const schema = tab(ctx.container, "Schema");
    expect(schema.getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement).toBe(schema);
    expect(panel(ctx.container, "Input").querySelector("table"), "the schema is drawn").not.toBeNull();
    key(schema, "ArrowRight");
    expect(tab(ctx.container, "Table").getAttribute("aria-selected"), "it wraps around").toBe("true");
    key(tab(ctx.container, "Table"), "End");
    expect(tab(ctx.container, "Schema").getAttribute("aria-selected")).toBe("true");
  });

  it("shows the schema: names indented, types and examples", async () => {
    const value = { id: "evt_1", lines: [{ sku: "A1" }, { sku: "B2", qty: 2 }] };
    await ctx.render(<DataView value={value} path="trigger" label="Sample" initialMode="schema" />);
    const rows = [...panel(ctx.container, "Sample").querySelectorAll("tbody tr")].map((r) => [...r.children].map((c) => c.textContent));
    expect(rows).toEqual([
      ["id", "string", "evt_1"],
      ["lines", "array of object", ""],
      ["sku", "string", "A1"],
      ["qty", "number optional", "2"],
    ]);
    const sku = field(ctx.container, "trigger.lines[0].sku").closest("th")!;
    expect(sku.style.paddingLeft, "a nested field is indented").not.toBe(field(ctx.container, "trigger.id").closest("th")!.style.paddingLeft);
  });

  it("folds and unfolds JSON nodes with named buttons", async () => {
    await ctx.render(<DataView value={{ customer: { name: "Ada" } }} path="trigger" label="Sample" />);
    const output = panel(ctx.container, "Sample");
    const fold = ctx.container.querySelector<HTMLButtonElement>('button[aria-label="Contents of trigger.customer"]')!;
    expect(fold.getAttribute("aria-expanded")).toBe("true");
    act(() => fold.click());
    expect(output.textContent).not.toContain("Ada");
    expect(output.textContent).toContain("{1 key}");
    expect(fold.getAttribute("aria-expanded")).toBe("false");
    act(() => fold.click());
    expect(output.textContent).toContain('"name": "Ada"');
  });

  it("searches keys and values: marks the matches, unfolds to them and hides the rest", async () => {
    const value = { a: { b: { c: { d: { secret: "needle in here" } } } }, other: "hay" };
    await ctx.render(<DataView value={value} path="input" label="Input" />);
    const output = panel(ctx.container, "Input");
    expect(output.textContent, "deep nodes start folded").not.toContain("needle");
    const box = ctx.container.querySelector<HTMLInputElement>('input[type="search"]')!;
    act(() => setValue(box, "NEEDLE"));
    expect([...output.querySelectorAll("mark")].map((m) => m.textContent)).toEqual(["needle"]);
    expect(output.textContent).not.toContain("hay");
    expect(ctx.container.querySelector(".dataview-search")!.textContent).toContain("1 match");
    act(() => setValue(box, "secret"));
    expect([...output.querySelectorAll("mark")].map((m) => m.textContent), "keys match too").toEqual(["secret"]);
    act(() => setValue(box, ""));
    expect(output.textContent).toContain("hay");
  });

  it("drags a field with its path", async () => {
    await ctx.render(<DataView value={{ body: { amount: 5 } }} path="trigger" label="Sample" />);
    const amount = field(ctx.container, "trigger.body.amount");
    expect(amount.getAttribute("draggable")).toBe("true");
    expect(amount.getAttribute("aria-label")).toBe("trigger.body.amount — drag into a field, or press to copy");
    const dataTransfer = transfer();
    const event = new Event("dragstart", { bubbles: true });
    Object.assign(event, { dataTransfer });
    act(() => void amount.dispatchEvent(event));
    expect(Object.fromEntries(dataTransfer.data)).toEqual({ [pathType]: "trigger.body.amount", "text/plain": "trigger.body.amount" });
  });

  it("drags a list's element by its index, and keeps the text the JSON value", async () => {
    const value = { items: [{ sku: "a" }, "plain", [1]] };
    const onPick = vi.fn();
    await ctx.render(<DataView value={value} path="trigger.body" label="Sample" onPick={onPick} />);
    expect(JSON.parse(panel(ctx.container, "Sample").textContent!)).toEqual(value);
    for (const [i, path] of ["trigger.body.items[0]", "trigger.body.items[1]", "trigger.body.items[2]", "trigger.body.items[2][0]"].entries()) {
      const element = field(ctx.container, path);
      expect(element.getAttribute("draggable"), path).toBe("true");
      expect(element.dataset.marker, path).toBe(i === 3 ? "0" : String(i));
    }
    act(() => field(ctx.container, "trigger.body.items[1]").click());
    expect(onPick).toHaveBeenCalledWith("trigger.body.items[1]");
  });

  it("copies a field's path when pressed, says so, and tells onPick", async () => {
    const writeText = vi.fn(async () => {});
    vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText } });
    const onPick = vi.fn();
    await ctx.render(<DataView value={{ "odd-key": 1, n: 2 }} path="steps.s" label="Output" onPick={onPick} />);
    act(() => field(ctx.container, 'steps.s["odd-key"]').click());
    expect(writeText).toHaveBeenCalledWith('steps.s["odd-key"]');
    expect(onPick).toHaveBeenCalledWith('steps.s["odd-key"]');
    const status = ctx.container.querySelector('[role="status"]')!;
    expect(status.textContent).toBe('Copied steps.s["odd-key"]');
    const n = field(ctx.container, "steps.s.n");
    expect(n.tabIndex, "reachable by keyboard").toBe(0);
    key(n, "Enter");
    expect(onPick).toHaveBeenLastCalledWith("steps.s.n");
    key(n, " ");
    expect(onPick).toHaveBeenCalledTimes(3);
  });

  it("shows the path when there is no clipboard", async () => {
    vi.stubGlobal("navigator", { ...navigator, clipboard: undefined });
    await ctx.render(<DataView value={{ n: 2 }} path="input" label="Input" />);
    act(() => field(ctx.container, "input.n").click());
    expect(ctx.container.querySelector('[role="status"]')!.textContent).toBe("Path: input.n");
  });

  it("draws only the start of large data", async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ i, name: `row ${i}` }));
    await ctx.render(<DataView value={rows} path="trigger" label="Sample" />);
    const output = panel(ctx.container, "Sample");
    expect(output.querySelectorAll("tbody tr").length).toBe(100);
    expect(output.textContent).toContain("Showing the first 100 of 20,000 rows.");

    act(() => tab(ctx.container, "JSON").click());
    expect(output.querySelectorAll(".dataview-line").length, "the big list starts folded").toBe(1);
    act(() => ctx.container.querySelector<HTMLButtonElement>('button[aria-label="Contents of trigger"]')!.click());
    const more = [...output.querySelectorAll("button")].find((b) => b.textContent?.startsWith("Show 100 more"))!;
    expect(more.textContent).toBe("Show 100 more of 19,900 left");
    expect(output.querySelectorAll('button[aria-label^="Contents of trigger["]').length).toBe(100);
    act(() => more.click());
    expect(output.querySelectorAll('button[aria-label^="Contents of trigger["]').length).toBe(200);
  });

  it("draws only the first columns of a wide object", async () => {
    const wide = Object.fromEntries(Array.from({ length: 62 }, (_, k) => [`k${k}`, k]));
    await ctx.render(<DataView value={wide} path="input" label="Input" initialMode="table" />);
    const output = panel(ctx.container, "Input");
    expect(output.querySelectorAll("thead th").length).toBe(50);
    expect(output.textContent).toContain("Showing 50 of 62 columns.");
  });
});

describe("StepView", () => {
  const ctx = mounted();

  it("shows a step's output and input in data views with their paths", async () => {
    const step: Step = {
      node_id: "transform", attempt: 1, status: "succeeded", port: null, logs: [], started_at: "2026-12-04T10:00:00Z", duration_ms: 3,
      output: { total: 42 }, input: { amount: 21 },
    };
    await ctx.render(<StepView step={step} outputLabel="Test output" />);
    expect(JSON.parse(panel(ctx.container, "Test output of transform").textContent!)).toEqual({ total: 42 });
    expect(JSON.parse(panel(ctx.container, "Input of transform").textContent!)).toEqual({ amount: 21 });
    field(ctx.container, "steps.transform.total");
    field(ctx.container, "input.amount");
  });
});
