// The data view: a value (a node's input, a step's output, a webhook
// sample) as a table, as JSON or as its schema, whose every field can be
// dragged into a parameter field or pressed to copy its path.
import { useEffect, useId, useMemo, useState, type DragEvent, type KeyboardEvent, type ReactNode } from "react";
import {
  cellOf,
  defaultMode,
  inferSchema,
  isObject,
  maxChildren,
  maxSchemaRows,
  pathType,
  pieces,
  schemaRows,
  search,
  startsOpen,
  summary,
  tableOf,
  typeName,
  type Found,
  type ViewMode,
} from "./dataview";
import { childPath } from "./paths";
import "./DataView.css";

/** How long the "Copied …" status stays. */
const statusMs = 4000;
/** The most JSON lines drawn unfolded before the rest starts folded. */
const openBudget = 2000;
/** The longest string the JSON view draws whole. */
const maxStringLength = 10_000;

const modes: { mode: ViewMode; name: string }[] = [
  { mode: "table", name: "Table" },
  { mode: "json", name: "JSON" },
  { mode: "schema", name: "Schema" },
];

export interface DataViewProps {
  value: unknown;
  /** The expression path of the value itself: trigger, steps.<id>, input. */
  path: string;
  /** The view's accessible name, e.g. "Output of transform_1". */
  label: string;
  /** The view to open in; by default a table for a list of objects, else JSON. */
  initialMode?: ViewMode;
  /** Hears the path of each field pressed. */
  onPick?: (path: string) => void;
}

/** DataView shows a value in three views, Table, JSON and Schema, under
 * tabs. The panel bears the label; in JSON its text is the value's JSON. */
export function DataView({ value, path, label, initialMode, onPick }: DataViewProps) {
  const [mode, setMode] = useState<ViewMode>(() => initialMode ?? defaultMode(value));
  const [query, setQuery] = useState("");
  const [status, setStatus] = useState("");
  const id = useId();
  // Only the JSON view searches; the others show everything.
  const found = useMemo(() => search(value, path, mode === "json" ? query : ""), [value, path, mode, query]);

  useEffect(() => {
    if (!status) return;
    const timer = setTimeout(() => setStatus(""), statusMs);
    return () => clearTimeout(timer);
  }, [status]);

  if (value === undefined) {
    return (
      <div role="region" aria-label={label} className="dataview dataview-empty">
        <p>No data yet — run a test or capture a sample</p>
      </div>
    );
  }

  const pick = (picked: string) => {
    copyPath(picked, setStatus);
    onPick?.(picked);
  };
  const panelId = `${id}-panel`;
  return (
    <div className="dataview">
      <div className="dataview-bar">
        <Tabs mode={mode} onSelect={setMode} idPrefix={id} panelId={panelId} />
        {mode === "json" && <Search query={query} found={found} onQuery={setQuery} />}
      </div>
      <div role="tabpanel" id={panelId} aria-label={label} tabIndex={0} className="dataview-panel">
        {mode === "table" && <TableView value={value} path={path} onPick={pick} />}
        {mode === "json" && <JSONView value={value} path={path} query={query} found={found} onPick={pick} />}
        {mode === "schema" && <SchemaView value={value} path={path} onPick={pick} />}
      </div>
      <p role="status" className="dataview-status">
        {status}
      </p>
    </div>
  );
}

/** copyPath puts a path on the clipboard, where there is one, and says so;
 * without one (an insecure page) it shows the path to copy by hand. */
function copyPath(path: string, say: (text: string) => void) {
  const clipboard = typeof navigator === "undefined" ? undefined : navigator.clipboard;
  if (!clipboard?.writeText) {
    say(`Path: ${path}`);
    return;
  }
  say(`Copied ${path}`);
  clipboard.writeText(path).catch(() => say(`Could not copy; the path is ${path}`));
}

/** Tabs are the tablist of the three views; arrows, Home and End move
 * between them and select. */
function Tabs({ mode, onSelect, idPrefix, panelId }: { mode: ViewMode; onSelect: (mode: ViewMode) => void; idPrefix: string; panelId: string }) {
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const at = modes.findIndex((m) => m.mode === mode);
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: modes.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const index = (next + modes.length) % modes.length;
    onSelect(modes[index].mode);
    event.currentTarget.querySelectorAll<HTMLElement>('[role="tab"]')[index]?.focus();
  };
  return (
    <div role="tablist" aria-label="Data views" className="dataview-tabs" onKeyDown={onKeyDown}>
      {modes.map((m) => (
        <button
          key={m.mode}
          type="button"
          role="tab"
          id={`${idPrefix}-${m.mode}`}
          aria-selected={m.mode === mode}
          aria-controls={panelId}
          tabIndex={m.mode === mode ? 0 : -1}
          onClick={() => onSelect(m.mode)}
        >
          {m.name}
        </button>
      ))}
    </div>
  );
}

/** Search is the JSON view's search box, with how much it found. */
function Search({ query, found, onQuery }: { query: string; found: Found; onQuery: (query: string) => void }) {
  const count = found.matches.size;
  return (
    <div className="dataview-search">
      <input type="search" aria-label="Search keys and values" placeholder="Search keys and values" value={query} onChange={(e) => onQuery(e.target.value)} />
      {query.trim() !== "" && (
        <small>
          {count === 0 ? "no match" : `${count.toLocaleString("en")} match${count === 1 ? "" : "es"}`}
          {found.capped && " (searched the first part)"}
        </small>
      )}
    </div>
  );
}

/** FieldHandle is a field as something to drag into a parameter field, or
 * press (click, Enter, Space) to copy its path. A span with the button
 * role, since some browsers will not drag a <button>. */
function FieldHandle({
  path,
  name,
  onPick,
  className = "",
  marker,
  children,
}: {
  path: string;
  name?: string;
  onPick: (path: string) => void;
  className?: string;
  /** Drawn by CSS, not in the text: a list element's index, which would
   * make the JSON view's text no longer the value. */
  marker?: string;
  children?: ReactNode;
}) {
  const onDragStart = (event: DragEvent<HTMLSpanElement>) => {
    event.dataTransfer.setData(pathType, path);
    event.dataTransfer.setData("text/plain", path);
    event.dataTransfer.effectAllowed = "copy";
  };
  const onKeyDown = (event: KeyboardEvent<HTMLSpanElement>) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    // Space would scroll the panel.
    event.preventDefault();
    onPick(path);
  };
  const description = `${name ? `${name}, ` : ""}${path} — drag into a field, or press to copy`;
  return (
    <span
      role="button"
      tabIndex={0}
      draggable
      className={`dataview-field ${className}`}
      data-marker={marker}
      aria-label={description}
      title={`${path} — drag into a field, or press to copy`}
      onDragStart={onDragStart}
      onClick={() => onPick(path)}
      onKeyDown={onKeyDown}
    >
      {children}
    </span>
  );
}

interface ViewProps {
  value: unknown;
  path: string;
  onPick: (path: string) => void;
}

/** TableView lays out a list of objects as rows, an object as one row. */
function TableView({ value, path, onPick }: ViewProps) {
  const table = useMemo(() => tableOf(value, path), [value, path]);
  if (!table) {
    return (
      <p className="dataview-note">
        A single value:{" "}
        <FieldHandle path={path} name={summary(value)} onPick={onPick} className="dataview-scalar">
          {summary(value)}
        </FieldHandle>
      </p>
    );
  }
  if (table.totalRows === 0) return <p className="dataview-note">An empty list</p>;
  if (table.columns.length === 0) return <p className="dataview-note">{table.list ? "A list of empty objects" : "An empty object"}</p>;
  const cut = [
    table.rows.length < table.totalRows && `the first ${table.rows.length} of ${table.totalRows.toLocaleString("en")} rows`,
    table.columns.length < table.totalColumns && `${table.columns.length} of ${table.totalColumns} columns`,
  ].filter(Boolean);
  return (
    <>
      <table className="dataview-table">
        <thead>
          <tr>
            {table.list && <th scope="col">#</th>}
            {table.columns.map((column) => (
              <th scope="col" key={column.path}>
                <FieldHandle path={column.path} onPick={onPick}>
                  {column.key ?? "(value)"}
                </FieldHandle>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {table.rows.map((row, i) => (
            <tr key={row.path}>
              {table.list && <th scope="row">{i}</th>}
              {table.columns.map((column) => {
                const cell = cellOf(row, column);
                return (
                  <td key={column.path}>
                    {cell.value !== undefined && (
                      <FieldHandle path={cell.path} name={summary(cell.value, 40)} onPick={onPick} className={`dataview-${kindClass(cell.value)}`}>
                        {summary(cell.value, 60)}
                      </FieldHandle>
                    )}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {cut.length > 0 && <p className="dataview-note">Showing {cut.join(" and ")}.</p>}
    </>
  );
}

/** kindClass names the colour of a value: string, number, literal (true,
 * false, null) or summary (an object or list). */
function kindClass(value: unknown): string {
  if (typeof value === "string") return "string";
  if (typeof value === "number") return "number";
  if (value !== null && typeof value === "object") return "summary";
  return "literal";
}

/** SchemaView lists the fields of the value, nested ones indented, with
 * their types and an example. */
function SchemaView({ value, path, onPick }: ViewProps) {
  const shape = useMemo(() => inferSchema(value), [value]);
  const rows = useMemo(() => schemaRows(shape, path), [shape, path]);
  return (
    <>
      <p className="dataview-note">
        <code>{path}</code>: {typeName(shape)}
      </p>
      {rows.length > 0 && (
        <table className="dataview-table dataview-schema">
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Type</th>
              <th scope="col">Example</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.path}>
                <th scope="row" style={{ paddingLeft: `${0.75 + row.depth * 1.25}rem` }}>
                  <FieldHandle path={row.path} onPick={onPick}>
                    {row.name}
                  </FieldHandle>
                </th>
                <td>
                  {row.type}
                  {row.optional && <small> optional</small>}
                </td>
                <td className={`dataview-${kindClass(row.example)}`}>{row.example === undefined ? "" : summary(row.example, 40)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {rows.length >= maxSchemaRows && <p className="dataview-note">Showing the first {maxSchemaRows} fields.</p>}
    </>
  );
}

/** What every node of the JSON view reads. */
interface JSONContext {
  query: string;
  found: Found;
  /** Nodes folded or unfolded by hand, over how they start. */
  folds: Record<string, boolean>;
  toggle: (path: string, open: boolean) => void;
  /** How many children each node shows, when more than maxChildren. */
  shown: Record<string, number>;
  showMore: (path: string) => void;
  onPick: (path: string) => void;
  /** The lines left to unfold by default; past it, nodes start folded. */
  budget: { left: number };
}

/** JSONView draws the value as indented JSON, each object and list
 * foldable, each key a field to drag; a search unfolds the nodes around
 * its matches and hides the rest. */
function JSONView({ value, path, query, found, onPick }: ViewProps & { query: string; found: Found }) {
  const [folds, setFolds] = useState<Record<string, boolean>>({});
  const [shown, setShown] = useState<Record<string, number>>({});
  // A new search unfolds around its own matches.
  useEffect(() => setFolds({}), [query]);
  const ctx: JSONContext = {
    query,
    found,
    folds,
    toggle: (at, open) => setFolds((f) => ({ ...f, [at]: open })),
    shown,
    showMore: (at) => setShown((s) => ({ ...s, [at]: (s[at] ?? maxChildren) + maxChildren })),
    onPick,
    budget: { left: openBudget },
  };
  return (
    <div className="dataview-json">
      <JSONNode value={value} path={path} name={null} index={null} depth={0} last inMatch={false} ctx={ctx} />
    </div>
  );
}

/** Highlighted shows text with the search's matches marked. */
function Highlighted({ text, query }: { text: string; query: string }) {
  return (
    <>
      {pieces(text, query).map((piece, i) => (i % 2 === 1 ? <mark key={i}>{piece}</mark> : piece))}
    </>
  );
}

interface NodeProps {
  value: unknown;
  path: string;
  /** The key of the node in its object; null for list elements and the root. */
  name: string | null;
  /** The position of the node in its list; null for object members and the root. */
  index: number | null;
  depth: number;
  /** Whether the node is the last of its parent, which takes no comma. */
  last: boolean;
  /** Whether the node is inside a match, so shown whatever it holds. */
  inMatch: boolean;
  ctx: JSONContext;
}

/** JSONNode draws one value of the JSON view: a line for a scalar, an empty
 * or folded collection; an opening line, children and a closing line for
 * an unfolded one. */
function JSONNode({ value, path, name, index, depth, last, inMatch, ctx }: NodeProps) {
  const searching = ctx.query.trim() !== "";
  const matched = inMatch || ctx.found.matches.has(path);
  const comma = last ? "" : ",";
  const key =
    name !== null ? (
      <>
        {'"'}
        <FieldHandle path={path} onPick={ctx.onPick} className="dataview-key">
          <Highlighted text={name} query={ctx.query} />
        </FieldHandle>
        {'": '}
      </>
    ) : (
      index !== null && <FieldHandle path={path} onPick={ctx.onPick} className="dataview-index" marker={String(index)} />
    );

  if (!Array.isArray(value) && !isObject(value)) {
    const text = scalarText(value);
    return (
      <div className="dataview-line">
        {key}
        <span className={`dataview-${kindClass(value)}`}>
          <Highlighted text={text} query={ctx.query} />
        </span>
        {comma}
      </div>
    );
  }

  const list = Array.isArray(value);
  const entries: [string | number, unknown][] = list ? value.map((v, i) => [i, v]) : Object.entries(value);
  const [open, close] = list ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) {
    return (
      <div className="dataview-line">
        {key}
        {open}
        {close}
        {comma}
      </div>
    );
  }

  const byDefault = searching ? ctx.found.ancestors.has(path) : startsOpen(depth, entries.length) && ctx.budget.left >= entries.length;
  const unfolded = ctx.folds[path] ?? byDefault;
  const fold = (
    <button
      type="button"
      className="dataview-fold"
      aria-expanded={unfolded}
      aria-label={`Contents of ${path}`}
      onClick={() => ctx.toggle(path, !unfolded)}
    />
  );
  if (!unfolded) {
    return (
      <div className="dataview-line">
        {fold}
        {key}
        {open}
        <span className="dataview-summary">{summary(value).slice(1, -1)}</span>
        {close}
        {comma}
      </div>
    );
  }

  if (!searching) ctx.budget.left -= entries.length;
  // While searching, only matches, what leads to them and what they hold.
  const visible = entries.filter(([k]) => {
    const at = childPath(path, k);
    return !searching || matched || ctx.found.matches.has(at) || ctx.found.ancestors.has(at);
  });
  const limit = ctx.shown[path] ?? maxChildren;
  const drawn = visible.slice(0, limit);
  return (
    <>
      <div className="dataview-line">
        {fold}
        {key}
        {open}
      </div>
      <div className="dataview-children">
        {drawn.map(([k, child], i) => (
          <JSONNode
            key={k}
            value={child}
            path={childPath(path, k)}
            name={typeof k === "string" ? k : null}
            index={typeof k === "number" ? k : null}
            depth={depth + 1}
            last={i === visible.length - 1}
            inMatch={matched}
            ctx={ctx}
          />
        ))}
        {visible.length > drawn.length && (
          <div className="dataview-line">
            <button type="button" className="dataview-more" onClick={() => ctx.showMore(path)}>
              Show {Math.min(maxChildren, visible.length - drawn.length)} more of {(visible.length - drawn.length).toLocaleString("en")} left
            </button>
          </div>
        )}
      </div>
      <div className="dataview-line">
        {close}
        {comma}
      </div>
    </>
  );
}

/** scalarText is a scalar as JSON, a very long string cut. */
function scalarText(value: unknown): string {
  if (typeof value === "string" && value.length > maxStringLength) {
    return `${JSON.stringify(value.slice(0, maxStringLength)).slice(0, -1)}…" (${(value.length - maxStringLength).toLocaleString("en")} more characters)`;
  }
  return JSON.stringify(value) ?? String(value);
}
