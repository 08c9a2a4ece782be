import { describe, expect, it } from "vitest";
import { completionsAt, expressionStart, scopePaths } from "./paths";

describe("expression paths", () => {
  const trigger = { body: { data: { object: { amount: 2500, "receipt-email": "ada@example.com" } }, items: [{ sku: "A1" }] }, headers: {} };
  const steps = { amount: { usd: 25 } };
  const paths = scopePaths(trigger, steps);

  it("lists the trigger's and the steps' paths from real data", () => {
    expect(paths).toEqual(
      expect.arrayContaining([
        "trigger",
        "trigger.body.data.object.amount",
        'trigger.body.data.object["receipt-email"]',
        "trigger.body.items[0].sku",
        "steps.amount.usd",
      ]),
    );
    expect(paths.indexOf("trigger.body")).toBeLessThan(paths.indexOf("trigger.body.data"));
  });

  it("completes what was typed", () => {
    const offered = (typed: string) => completionsAt(typed, typed.length, "expression", paths)?.options.map((o) => o.label) ?? [];
    expect(offered("trigger.body.data.o")).toEqual([
      "trigger.body.data.object",
      "trigger.body.data.object.amount",
      'trigger.body.data.object["receipt-email"]',
    ]);
    expect(offered("steps.")).toEqual(["steps.amount", "steps.amount.usd"]);
    expect(offered("nothing")).toEqual([]);
  });

  it("stays bounded on large data", () => {
    const big = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i]));
    expect(scopePaths(big, {}).length).toBe(500);
  });

  it("lists the selected node's input too, when it is known", () => {
    expect(scopePaths(undefined, {}, { id: 7, lines: [{ sku: "A1" }] })).toEqual(["input", "input.id", "input.lines", "input.lines[0]", "input.lines[0].sku"]);
  });
});

describe("completing at the cursor", () => {
  const paths = scopePaths({ body: { amount: 5, "receipt-email": "a@b.c" } }, { transform: { total: 10 }, other: { x: 1 } });
  const labels = (text: string, mode: "expression" | "template" | "json", cursor = text.length, explicit = false) =>
    completionsAt(text, cursor, mode, paths, explicit)?.options.map((o) => o.label) ?? [];

  it("offers the paths that continue the dotted word under the cursor", () => {
    expect(labels("steps.tr", "expression")).toEqual(["steps.transform", "steps.transform.total"]);
    const at = completionsAt("len(steps.tr) > 1", 12, "expression", paths)!;
    expect(at.from, "the dotted word starts after the parenthesis").toBe(4);
    expect(at.to).toBe(12);
    expect(at.options.map((o) => o.label)).toEqual(["steps.transform", "steps.transform.total"]);
    expect(labels("trigger.body.", "expression")).toEqual(["trigger.body.amount", 'trigger.body["receipt-email"]']);
    expect(labels('trigger.body["rec', "expression")).toEqual(['trigger.body["receipt-email"]']);
  });

  it("offers the top-level names and functions for a bare word", () => {
    expect(labels("st", "expression")).toEqual(["steps", "steps.transform", "steps.transform.total", "steps.other", "steps.other.x", "string"]);
    expect(completionsAt("i", 1, "expression", [])!.options).toEqual([
      { label: "input", kind: "name" },
      { label: "item", kind: "name" },
      { label: "index", kind: "name" },
      { label: "int", kind: "function" },
    ]);
    expect(labels("upp", "expression")).toEqual(["upper"]);
  });

  it("offers nothing for nothing typed unless asked, after a number or a dot, or for a whole path", () => {
    expect(completionsAt("a + ", 4, "expression", paths)).toBeNull();
    expect(labels("a + ", "expression", 4, true)).toEqual(expect.arrayContaining(["trigger", "steps", "len", "trigger.body.amount"]));
    expect(labels("1.5", "expression")).toEqual([]);
    expect(labels("steps.transform.total", "expression")).toEqual([]);
  });

  it("completes a template only inside {{ }}", () => {
    expect(labels("Total steps.tr", "template")).toEqual([]);
    expect(labels("Total {{ steps.tr", "template")).toEqual(["steps.transform", "steps.transform.total"]);
    expect(labels("Total {{ steps.tr }}", "template", 16)).toEqual(["steps.transform", "steps.transform.total"]);
    expect(labels("{{ steps.other.x }} and steps.tr", "template"), "after a closed placeholder").toEqual([]);
    expect(labels('{"total": "{{ steps.tr', "json")).toEqual(["steps.transform", "steps.transform.total"]);
    expect(labels('{"steps.tr', "json")).toEqual([]);
  });

  it("finds where the expression under the cursor starts", () => {
    expect(expressionStart("a {{ b }} {{ c", 14, "template")).toBe(12);
    expect(expressionStart("a {{ b }} c", 11, "template")).toBeNull();
    expect(expressionStart("anything", 3, "expression")).toBe(0);
  });
});
