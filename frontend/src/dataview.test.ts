import { describe, expect, it } from "vitest";
import { cellOf, defaultMode, inferSchema, maxColumns, maxRows, pieces, schemaRows, search, startsOpen, summary, tableOf, typeName } from "./dataview";

describe("the view a value opens in", () => {
  it("is a table for a list of objects, JSON otherwise", () => {
    expect(defaultMode([{ a: 1 }, { b: 2 }])).toBe("table");
    expect(defaultMode({ a: 1 })).toBe("json");
    expect(defaultMode([])).toBe("json");
    expect(defaultMode([1, 2])).toBe("json");
    expect(defaultMode([{ a: 1 }, 2])).toBe("json");
    expect(defaultMode("text")).toBe("json");
  });
});

describe("summaries", () => {
  it("show scalars as themselves and collections by their size", () => {
    expect(summary({ a: 1, b: 2, c: 3 })).toBe("{3 keys}");
    expect(summary({ a: 1 })).toBe("{1 key}");
    expect(summary([1, 2, 3, 4, 5])).toBe("[5 items]");
    expect(summary([])).toBe("[0 items]");
    expect(summary(null)).toBe("null");
    expect(summary(false)).toBe("false");
    expect(summary("x".repeat(100), 10)).toBe("xxxxxxxxx…");
  });
});

describe("tables", () => {
  it("lay out a list of objects as rows under the union of their keys", () => {
    const table = tableOf([{ id: 1, name: "Ada" }, { id: 2, "e-mail": "b@x" }], "trigger.body")!;
    expect(table.list).toBe(true);
    expect(table.columns).toEqual([
      { key: "id", path: "trigger.body[0].id" },
      { key: "name", path: "trigger.body[0].name" },
      { key: "e-mail", path: 'trigger.body[0]["e-mail"]' },
    ]);
    expect(table.rows.map((r) => r.path)).toEqual(["trigger.body[0]", "trigger.body[1]"]);
    expect(cellOf(table.rows[1], table.columns[0])).toEqual({ path: "trigger.body[1].id", value: 2 });
    expect(cellOf(table.rows[1], table.columns[1]), "a key the row lacks").toEqual({ path: "trigger.body[1].name", value: undefined });
  });

  it("lay out an object as one row", () => {
    const table = tableOf({ total: 42, lines: [1, 2] }, "steps.sum")!;
    expect(table.list).toBe(false);
    expect(table.columns.map((c) => c.path)).toEqual(["steps.sum.total", "steps.sum.lines"]);
    expect(table.rows).toEqual([{ path: "steps.sum", value: { total: 42, lines: [1, 2] } }]);
  });

  it("give the elements of a list that are no objects a column of their own", () => {
    const table = tableOf([{ a: 1 }, 7], "input")!;
    expect(table.columns).toEqual([
      { key: null, path: "input[0]" },
      { key: "a", path: "input[0].a" },
    ]);
    expect(cellOf(table.rows[1], table.columns[0])).toEqual({ path: "input[1]", value: 7 });
    expect(cellOf(table.rows[0], table.columns[0]).value, "an object is no bare element").toBeUndefined();
  });

  it("have none for a scalar, and no rows for an empty list", () => {
    expect(tableOf(42, "input")).toBeNull();
    expect(tableOf([], "input")).toEqual({ list: true, columns: [], rows: [], totalRows: 0, totalColumns: 0 });
  });

  it("stay bounded on large data", () => {
    const wide = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, i]));
    const table = tableOf(Array.from({ length: 5000 }, () => wide), "trigger")!;
    expect(table.rows.length).toBe(maxRows);
    expect(table.totalRows).toBe(5000);
    expect(table.columns.length).toBe(maxColumns);
    expect(table.totalColumns).toBe(80);
  });
});

describe("schemas", () => {
  it("name the type of each field, with an example, nested fields indented", () => {
    const rows = schemaRows(inferSchema({ id: "evt_1", amount: 25, paid: true, note: null, customer: { name: "Ada" } }), "trigger.body");
    expect(rows).toEqual([
      { name: "id", path: "trigger.body.id", depth: 0, type: "string", optional: false, example: "evt_1" },
      { name: "amount", path: "trigger.body.amount", depth: 0, type: "number", optional: false, example: 25 },
      { name: "paid", path: "trigger.body.paid", depth: 0, type: "boolean", optional: false, example: true },
      { name: "note", path: "trigger.body.note", depth: 0, type: "null", optional: false, example: undefined },
      { name: "customer", path: "trigger.body.customer", depth: 0, type: "object", optional: false, example: undefined },
      { name: "name", path: "trigger.body.customer.name", depth: 1, type: "string", optional: false, example: "Ada" },
    ]);
  });

  it("merge the objects of a list, marking the fields some lack", () => {
    const rows = schemaRows(inferSchema({ lines: [{ sku: "A1", qty: 1 }, { sku: "B2", gift: true }] }), "input");
    expect(rows.map((r) => [r.path, r.depth, r.type, r.optional])).toEqual([
      ["input.lines", 0, "array of object", false],
      ["input.lines[0].sku", 1, "string", false],
      ["input.lines[0].qty", 1, "number", true],
      ["input.lines[0].gift", 1, "boolean", true],
    ]);
  });

  it("name every kind a place holds, in lists of mixed values too", () => {
    expect(typeName(inferSchema([1, "a", 2]))).toBe("array of (number | string)");
    expect(typeName(inferSchema([[1], [2]]))).toBe("array of array of number");
    expect(typeName(inferSchema([]))).toBe("array");
    const rows = schemaRows(inferSchema([{ v: 1 }, { v: "x" }, { v: null }]), "steps.s");
    expect(rows).toEqual([{ name: "v", path: "steps.s[0].v", depth: 0, type: "number | string | null", optional: false, example: 1 }]);
  });

  it("reach the objects of nested lists through [0]", () => {
    expect(schemaRows(inferSchema({ grid: [[{ x: 1 }]] }), "input").map((r) => r.path)).toEqual(["input.grid", "input.grid[0][0].x"]);
  });
});

describe("search", () => {
  const data = { customer: { name: "Ada Lovelace", email: "ada@example.com" }, lines: [{ sku: "A1" }, { sku: "LOVE-2" }], total: 42 };

  it("finds keys and scalar values, ignoring case, with the ancestors to unfold", () => {
    const found = search(data, "trigger", "love");
    expect([...found.matches].sort()).toEqual(["trigger.customer.name", "trigger.lines[1].sku"]);
    expect([...found.ancestors].sort()).toEqual(["trigger", "trigger.customer", "trigger.lines", "trigger.lines[1]"]);
    expect([...search(data, "trigger", "EMAIL").matches]).toEqual(["trigger.customer.email"]);
    expect([...search(data, "trigger", "42").matches]).toEqual(["trigger.total"]);
  });

  it("finds nothing for an empty query, and stops on large data", () => {
    expect(search(data, "trigger", "  ").matches.size).toBe(0);
    const big = Array.from({ length: 50_000 }, (_, i) => ({ i }));
    expect(search(big, "input", "x").capped).toBe(true);
  });

  it("splits text around the matches for highlighting", () => {
    expect(pieces("Ada Lovelace", "LOVE")).toEqual(["Ada ", "Love", "lace"]);
    expect(pieces("aXa", "a")).toEqual(["", "a", "X", "a", ""]);
    expect(pieces("text", "")).toEqual(["text"]);
  });
});

describe("folding", () => {
  it("opens nodes near the top that are not too large", () => {
    expect(startsOpen(0, 3)).toBe(true);
    expect(startsOpen(3, 3)).toBe(false);
    expect(startsOpen(0, 100_000)).toBe(false);
  });
});
