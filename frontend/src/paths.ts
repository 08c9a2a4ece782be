// Paths an expression can read, gathered from real data: the flow's latest
// sample (trigger) and the outputs of its last test run (steps), for the
// expression fields' autocompletion.

const maxPaths = 500;
const maxDepth = 6;

// A key an expression can name after a dot; any other is quoted in brackets.
const nameKey = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** childPath is the path of one child of the value at path: `.key` for a
 * key that is a name, `["odd-key"]` for any other key, `[i]` for a list's
 * element. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return nameKey.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** scopePaths lists dotted paths into trigger, steps.<id> and, when given,
 * input, parents before children, at most 500; list elements are reached
 * through [0]. */
export function scopePaths(trigger: unknown, steps: Record<string, unknown>, input?: unknown): string[] {
  const out: string[] = [];
  const walk = (value: unknown, path: string, depth: number) => {
    if (out.length >= maxPaths) return;
    out.push(path);
    if (depth >= maxDepth || value === null || typeof value !== "object") return;
    if (Array.isArray(value)) {
      if (value.length > 0) walk(value[0], childPath(path, 0), depth + 1);
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      walk(child, childPath(path, key), depth + 1);
    }
  };
  if (trigger !== undefined) walk(trigger, "trigger", 0);
  for (const [id, output] of Object.entries(steps)) walk(output, `steps.${id}`, 0);
  if (input !== undefined) walk(input, "input", 0);
  return out;
}

/** The top-level names of the expression language (contract v1). */
export const scopeNames = ["trigger", "steps", "input", "run", "env", "item", "index"];

/** Functions worth offering: expr-lang's builtins (it has more) and Hookflow's text. */
export const builtinFunctions = [
  "text", "len", "upper", "lower", "trim", "split", "join", "replace", "hasPrefix", "hasSuffix",
  "toJSON", "fromJSON", "string", "int", "float", "round", "abs", "now", "date", "duration",
  "filter", "map", "all", "any", "count", "sum", "min", "max", "first", "last", "keys", "values",
];

/** How a field's text holds expressions: all of it, or inside {{ }}. */
export type CodeMode = "expression" | "template" | "json";

/** One completion: a path of real data, a top-level name or a function. */
export interface CompletionOption {
  label: string;
  kind: "path" | "name" | "function";
}

/** What completing at a position offers: options that replace text[from, to). */
export interface CompletionAt {
  from: number;
  to: number;
  options: CompletionOption[];
}

/** expressionStart is where the expression that the cursor is in starts:
 * 0 in an expression field; just after the `{{` of the placeholder around
 * the cursor in a template (or a JSON field's strings, which may hold
 * templates); null outside any placeholder. */
export function expressionStart(text: string, cursor: number, mode: CodeMode): number | null {
  if (mode === "expression") return 0;
  const before = text.slice(0, cursor);
  const open = before.lastIndexOf("{{");
  if (open < 0 || before.indexOf("}}", open + 2) >= 0) return null;
  return open + 2;
}

/** insideString says whether pos in JSON text is inside a string literal. */
function insideString(text: string, pos: number): boolean {
  let inside = false;
  for (let i = 0; i < pos; i++) {
    if (text[i] === "\\" && inside) i++;
    else if (text[i] === '"') inside = !inside;
  }
  return inside;
}

/** insertionFor is the text that puts a path into a field at pos: the bare
 * path where an expression is already being written (an expression field,
 * or inside a `{{ }}`), else a `{{ path }}` placeholder. A JSON field holds
 * placeholders in its strings only: inside one the text is escaped as the
 * string needs; between values it becomes a string of its own, so the text
 * stays JSON. */
export function insertionFor(text: string, pos: number, mode: CodeMode, path: string): string {
  const placeholder = `{{ ${path} }}`;
  const bare = expressionStart(text, pos, mode) !== null ? path : placeholder;
  if (mode !== "json") return bare;
  if (!insideString(text, pos)) return JSON.stringify(placeholder);
  return JSON.stringify(bare).slice(1, -1);
}

// A dotted path being typed: a name, then .names, [0] or ["odd-key"]
// segments, any of them still unfinished. It must not follow a name
// character or a dot, so `a.b` after `)` still completes from `b`.
const dottedWord = /(?<![\w$.\]])[A-Za-z_$][\w$]*(?:\.[\w$]*|\[(?:\d*|"[^"\]]*"?)\]?)*$/;

/** completionsAt is what the completion list offers at the cursor: the
 * known paths, top-level names and functions that continue the dotted word
 * before it. Outside an expression it offers nothing; with nothing typed,
 * only when asked for (explicit, as with Ctrl-Space). */
export function completionsAt(text: string, cursor: number, mode: CodeMode, paths: string[], explicit = false, limit = 50): CompletionAt | null {
  const start = expressionStart(text, cursor, mode);
  if (start === null) return null;
  const typed = dottedWord.exec(text.slice(start, cursor))?.[0] ?? "";
  if (typed === "" && !explicit) return null;
  const seen = new Set<string>();
  const options: CompletionOption[] = [];
  // After a dot, a key that is no name continues as ["odd-key"].
  const bracketed = typed.endsWith(".") ? typed.slice(0, -1) + "[" : null;
  const continues = (label: string) => label.startsWith(typed) || (bracketed !== null && label.startsWith(bracketed));
  const offer = (label: string, kind: CompletionOption["kind"]) => {
    if (options.length >= limit || seen.has(label) || label === typed || !continues(label)) return;
    seen.add(label);
    options.push({ label, kind });
  };
  // Names first, so `st` offers steps before every steps.… path; functions
  // only where a name could stand.
  const bare = !/[.[]/.test(typed);
  if (bare) for (const name of scopeNames) offer(name, "name");
  for (const path of paths) offer(path, "path");
  if (bare) for (const fn of builtinFunctions) offer(fn, "function");
  if (options.length === 0) return null;
  return { from: cursor - typed.length, to: cursor, options };
}
