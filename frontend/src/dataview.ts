// The data view's logic, apart from React: which view suits a value, the
// rows and columns of its table, the schema inferred from it, and what a
// search finds in it. Every walk is capped, so a payload of megabytes
// costs no more than its first few hundred entries.
import { childPath } from "./paths";

/** The drag data type of a path, which code fields accept as a drop. */
export const pathType = "application/x-hookflow-path";

/** The three ways to look at a value. */
export type ViewMode = "table" | "json" | "schema";

/** The most rows and columns a table draws. */
export const maxRows = 100;
export const maxColumns = 50;
/** The most children one JSON node draws before asking to show more. */
export const maxChildren = 100;
/** How deep JSON nodes start unfolded. */
export const openDepth = 3;
/** The most list elements a schema samples. */
export const maxSampled = 100;
/** The most schema rows drawn, and how deep a schema goes. */
export const maxSchemaRows = 300;
export const maxSchemaDepth = 8;
/** The most nodes a search visits. */
export const maxSearched = 20_000;

/** A JSON object, as opposed to a list or a scalar. */
export type Entries = Record<string, unknown>;

/** isObject says whether value is an object that is no list. */
export function isObject(value: unknown): value is Entries {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** isListOfObjects says whether value is a non-empty list of objects only. */
function isListOfObjects(value: unknown): value is Entries[] {
  return Array.isArray(value) && value.length > 0 && value.every(isObject);
}

/** defaultMode is the view a value opens in: a table for a list of
 * objects, JSON for anything else. */
export function defaultMode(value: unknown): ViewMode {
  return isListOfObjects(value) ? "table" : "json";
}

/** plural says "1 key", "3 keys". */
function plural(n: number, word: string): string {
  return `${n.toLocaleString("en")} ${word}${n === 1 ? "" : "s"}`;
}

/** summary shows a value in a few characters: a scalar as itself (a long
 * string cut), an object or list as how much it holds. */
export function summary(value: unknown, maxLength = 80): string {
  if (Array.isArray(value)) return `[${plural(value.length, "item")}]`;
  if (isObject(value)) return `{${plural(Object.keys(value).length, "key")}}`;
  if (typeof value === "string") return value.length > maxLength ? `${value.slice(0, maxLength - 1)}…` : value;
  return value === undefined ? "" : String(value);
}

/** A table column: an object key, or (key null) the element itself, for
 * the elements of a list that are no objects. */
export interface Column {
  key: string | null;
  /** The path of the column's value in the first row. */
  path: string;
}

export interface Table {
  /** Whether the rows are a list's elements (which then have an index). */
  list: boolean;
  columns: Column[];
  /** The rows drawn, each with the path of its element. */
  rows: { path: string; value: unknown }[];
  totalRows: number;
  totalColumns: number;
}

/** tableOf lays out a list as rows of its elements with the union of their
 * keys as columns, or an object as one row; scalars have no table. Only
 * the first maxRows rows and maxColumns columns are kept. */
export function tableOf(value: unknown, path: string): Table | null {
  if (!Array.isArray(value) && !isObject(value)) return null;
  const list = Array.isArray(value);
  const elements: unknown[] = list ? value : [value];
  const rows = elements.slice(0, maxRows).map((v, i) => ({ path: list ? childPath(path, i) : path, value: v }));
  const keys = new Set<string>();
  let bare = false;
  for (const row of rows) {
    if (isObject(row.value)) for (const key of Object.keys(row.value)) keys.add(key);
    else bare = true;
  }
  const first = rows[0]?.path ?? path;
  const columns: Column[] = [...(bare ? [null] : []), ...keys].map((key) => ({ key, path: key === null ? first : childPath(first, key) }));
  return { list, columns: columns.slice(0, maxColumns), rows, totalRows: elements.length, totalColumns: columns.length };
}

/** cellOf is a row's value in a column, and its path; undefined where the
 * row lacks the key. */
export function cellOf(row: { path: string; value: unknown }, column: Column): { path: string; value: unknown } {
  if (column.key === null) return { path: row.path, value: isObject(row.value) ? undefined : row.value };
  return { path: childPath(row.path, column.key), value: isObject(row.value) ? row.value[column.key] : undefined };
}

/** The kinds of JSON value a schema tells apart. */
export type Kind = "string" | "number" | "boolean" | "null" | "object" | "array";

/** kindOf is a JSON value's kind. */
export function kindOf(value: unknown): Kind {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "object") return "object";
  if (typeof value === "number" || typeof value === "bigint") return "number";
  if (typeof value === "boolean") return "boolean";
  return "string";
}

/** The shape of the values seen at one place: their kinds in the order
 * first seen, an example scalar, an object's fields and a list's elements. */
export interface Shape {
  kinds: Kind[];
  example?: unknown;
  fields: Field[];
  items: Shape | null;
}

/** A field of an object's shape; optional when some objects lack it. */
export interface Field {
  name: string;
  shape: Shape;
  optional: boolean;
}

/** emptyShape is the shape of nothing seen yet. */
function emptyShape(): Shape {
  return { kinds: [], fields: [], items: null };
}

/** inferSchema is the shape of value: of all the objects of a list merged
 * (the first maxSampled), so a field some lack is optional, and a place
 * that holds several kinds lists them all. */
export function inferSchema(value: unknown): Shape {
  const shape = emptyShape();
  addToShape(shape, value, 0);
  return shape;
}

/** addToShape merges what value shows into shape. */
function addToShape(shape: Shape, value: unknown, depth: number) {
  const kind = kindOf(value);
  const seen = shape.kinds.includes(kind);
  if (!seen) shape.kinds.push(kind);
  if (depth >= maxSchemaDepth) return;
  if (kind === "array") {
    shape.items ??= emptyShape();
    for (const element of (value as unknown[]).slice(0, maxSampled)) addToShape(shape.items, element, depth + 1);
  } else if (kind === "object") {
    const entries = value as Entries;
    // A field is optional when an object seen before or now lacks it.
    for (const field of shape.fields) if (!(field.name in entries)) field.optional = true;
    for (const [name, child] of Object.entries(entries)) {
      let field = shape.fields.find((f) => f.name === name);
      if (!field) {
        field = { name, shape: emptyShape(), optional: seen };
        shape.fields.push(field);
      }
      addToShape(field.shape, child, depth + 1);
    }
  } else if (shape.example === undefined && kind !== "null") {
    shape.example = value;
  }
}

/** typeName says a shape's type: its kinds joined by |, a list as "array
 * of" what it holds (in parentheses when that is several kinds). */
export function typeName(shape: Shape): string {
  return shape.kinds
    .map((kind) => {
      if (kind !== "array") return kind;
      if (!shape.items || shape.items.kinds.length === 0) return "array";
      const items = typeName(shape.items);
      return shape.items.kinds.length > 1 ? `array of (${items})` : `array of ${items}`;
    })
    .join(" | ");
}

/** One line of a schema as drawn. */
export interface SchemaRow {
  name: string;
  path: string;
  depth: number;
  type: string;
  optional: boolean;
  example?: unknown;
}

/** schemaRows flattens a shape into its fields, parents before children,
 * at most maxSchemaRows; a list's element fields are reached through [0]. */
export function schemaRows(shape: Shape, path: string): SchemaRow[] {
  const rows: SchemaRow[] = [];
  const fieldsOf = (s: Shape, at: string, depth: number) => {
    for (const field of s.fields) {
      if (rows.length >= maxSchemaRows) return;
      const fieldPath = childPath(at, field.name);
      rows.push({ name: field.name, path: fieldPath, depth, type: typeName(field.shape), optional: field.optional, example: field.shape.example });
      fieldsOf(field.shape, fieldPath, depth + 1);
    }
    // The fields of a list's elements, at any depth of nesting.
    let items = s.items;
    let itemPath = at;
    while (items) {
      itemPath = childPath(itemPath, 0);
      if (items.fields.length > 0) fieldsOf(items, itemPath, depth);
      items = items.items;
    }
  };
  fieldsOf(shape, path, 0);
  return rows;
}

/** What a search finds: the paths whose key or scalar value holds the
 * query, and the paths of their ancestors, to unfold. */
export interface Found {
  matches: Set<string>;
  ancestors: Set<string>;
  /** Whether the search stopped at maxSearched nodes. */
  capped: boolean;
}

/** search finds the query (ignoring case) in the keys and scalar values of
 * value, whose path is path. An empty query finds nothing. */
export function search(value: unknown, path: string, query: string): Found {
  const found: Found = { matches: new Set(), ancestors: new Set(), capped: false };
  const needle = query.trim().toLowerCase();
  if (needle === "") return found;
  let visited = 0;
  // walk says whether anything at or below value matched.
  const walk = (v: unknown, at: string, key: string | null): boolean => {
    if (++visited > maxSearched) {
      found.capped = true;
      return false;
    }
    let hit = key !== null && key.toLowerCase().includes(needle);
    let below = false;
    if (Array.isArray(v)) v.forEach((child, i) => (below = walk(child, childPath(at, i), null) || below));
    else if (isObject(v)) for (const [k, child] of Object.entries(v)) below = walk(child, childPath(at, k), k) || below;
    else hit ||= String(v).toLowerCase().includes(needle);
    if (hit) found.matches.add(at);
    if (below) found.ancestors.add(at);
    return hit || below;
  };
  walk(value, path, null);
  return found;
}

/** pieces splits text around the occurrences of query (ignoring case), for
 * highlighting: the odd pieces are the matches. */
export function pieces(text: string, query: string): string[] {
  const needle = query.trim().toLowerCase();
  if (needle === "") return [text];
  const out: string[] = [];
  const lower = text.toLowerCase();
  let from = 0;
  for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, from)) {
    out.push(text.slice(from, at), text.slice(at, at + needle.length));
    from = at + needle.length;
  }
  out.push(text.slice(from));
  return out;
}

/** startsOpen says whether a JSON node starts unfolded: near the top, and
 * not too large. */
export function startsOpen(depth: number, size: number): boolean {
  return depth < openDepth && size <= maxChildren * 10;
}
