import { describe, expect, it } from "vitest";
import { childPath, completionsAt, expressionStart, insertionFor, scopePaths } from "./paths";

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

describe("child paths", () => {
  it("names a key after a dot, quotes any other key, and indexes a list", () => {
    expect(childPath("trigger", "body")).toBe("trigger.body");
    expect(childPath("trigger.body", "_id2")).toBe("trigger.body._id2");
    expect(childPath("trigger.body", "receipt-email")).toBe('trigger.body["receipt-email"]');
    expect(childPath("trigger.body", "2fa")).toBe('trigger.body["2fa"]');
    expect(childPath("trigger.body", 'say "hi"')).toBe('trigger.body["say \\"hi\\""]');
    expect(childPath("steps.list", 3)).toBe("steps.list[3]");
  });
});

describe("the text a dropped path becomes", () => {
  const cases: [string, string, string, "expression" | "template" | "json", string][] = [
    ["an expression takes the bare path", "a + ", "a + |", "expression", "trigger.x"],
    ["a template's text takes a placeholder", "Hi ", "Hi |", "template", "{{ trigger.x }}"],
    ["inside a placeholder, the bare path", "Hi {{ ", "Hi {{ | }}", "template", "trigger.x"],
    ["after a closed placeholder, a placeholder", "{{ a }} ", "{{ a }} |", "template", "{{ trigger.x }}"],
    ["a JSON string takes a placeholder", '{"a": "Hi ', '{"a": "Hi |"}', "json", "{{ trigger.x }}"],
    ["between JSON values, a string of one", '{"a": ', '{"a": |}', "json", '"{{ trigger.x }}"'],
    ["after a JSON string with an escaped quote", '{"a": "x\\"", "b": ', '{"a": "x\\"", "b": |}', "json", '"{{ trigger.x }}"'],
    ["inside a JSON placeholder, the bare path", '{"a": "{{ ', '{"a": "{{ | }}"}', "json", "trigger.x"],
  ];
  it.each(cases)("%s", (_, before, text, mode, want) => {
    expect(insertionFor(text.replace("|", ""), before.length, mode, "trigger.x")).toBe(want);
  });

  it("escapes a quoted key for a JSON string", () => {
    const path = 'trigger["odd-key"]';
    expect(insertionFor('{"a": ', 6, "json", path)).toBe('"{{ trigger[\\"odd-key\\"] }}"');
    expect(insertionFor('{"a": "', 7, "json", path)).toBe('{{ trigger[\\"odd-key\\"] }}');
    expect(insertionFor("", 0, "template", path)).toBe('{{ trigger["odd-key"] }}');
  });
});
