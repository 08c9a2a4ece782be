// Code fields: CodeMirror 6 editors for expressions, {{ templates }}, JSON
// and JavaScript, completing the paths of real data, and the live preview of
// what an expression or template gives with the sample data.
import { autocompletion, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { javascript } from "@codemirror/lang-javascript";
import { json } from "@codemirror/lang-json";
import { defaultHighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { Annotation, Compartment, EditorState, Prec, type Extension } from "@codemirror/state";
import { dropCursor, EditorView, keymap, lineNumbers, placeholder as placeholderText } from "@codemirror/view";
import { useEffect, useRef, useState } from "react";
import { errorMessage, type Preview, type PreviewScope } from "./api";
import { pathType } from "./dataview";
import { completionsAt, insertionFor, type CodeMode } from "./paths";

/** The editors a field may have: the expression modes, and JavaScript for a
 * code node's script (which reads the same names as an expression). */
export type EditorMode = CodeMode | "javascript";

/** Evaluates an expression or renders a template with sample data (Client.evaluate). */
export type PreviewFn = (source: { expression: string } | { template: string }, scope: PreviewScope) => Promise<Preview>;

// Marks the transactions that bring in a value from outside, which must
// not be reported back as the user's edits.
const fromOutside = Annotation.define<boolean>();

/** completionSource offers, at the cursor, the known paths, names and
 * functions; paths is read on each call, so it may change under the editor.
 * JavaScript completes as an expression, without expr's functions. */
export function completionSource(mode: EditorMode, paths: () => string[]) {
  return (context: CompletionContext): CompletionResult | null => {
    const found = completionsAt(context.state.doc.toString(), context.pos, mode === "javascript" ? "expression" : mode, paths(), context.explicit);
    const options = found?.options.filter((o) => mode !== "javascript" || o.kind !== "function") ?? [];
    if (!found || options.length === 0) return null;
    return {
      from: found.from,
      to: found.to,
      // Already filtered by prefix, in the order of the data.
      filter: false,
      options: options.map((o) => ({ label: o.label, type: o.kind === "function" ? "function" : o.kind === "name" ? "keyword" : "property" })),
    };
  };
}

// Typing the second `{` of `{{` closes the placeholder, leaving the cursor
// inside: `{{ | }}`.
const closePlaceholder = EditorView.inputHandler.of((view, from, to, text) => {
  if (text !== "{" || view.state.sliceDoc(from - 1, from) !== "{" || view.state.sliceDoc(to, to + 2) === "}}") return false;
  view.dispatch({ changes: { from, to, insert: "{  }}" }, selection: { anchor: from + 2 }, userEvent: "input.type" });
  return true;
});

/** insertPath puts a path into the editor at pos (by default the cursor)
 * as the field's mode needs it (see insertionFor), the cursor after it.
 * JavaScript takes it as an expression. */
export function insertPath(view: EditorView, mode: EditorMode, path: string, pos = view.state.selection.main.head) {
  const text = insertionFor(view.state.doc.toString(), pos, mode === "javascript" ? "expression" : mode, path);
  view.dispatch({ changes: { from: pos, insert: text }, selection: { anchor: pos + text.length }, userEvent: "input.drop" });
  view.focus();
}

// A path dragged from a data view drops as the field's mode needs it, not
// as the plain text it also carries: where it is dropped, or at the cursor
// when the drop has no position in the text.
function pathDrops(mode: EditorMode): Extension {
  return EditorView.domEventHandlers({
    dragover(event) {
      if (!event.dataTransfer?.types.includes(pathType)) return false;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      return true;
    },
    drop(event, view) {
      const path = event.dataTransfer?.getData(pathType);
      if (!path) return false;
      event.preventDefault();
      insertPath(view, mode, path, view.posAtCoords({ x: event.clientX, y: event.clientY }) ?? undefined);
      return true;
    },
  });
}

// The canvas undoes and redoes on Ctrl+Z and Ctrl+Y; inside an editor those
// keys belong to the editor's own history. An observer sees every key,
// also those the editor's keymap takes.
const keepUndoKeys = EditorView.domEventObservers({
  keydown(event) {
    if ((event.ctrlKey || event.metaKey) && /^[zy]$/i.test(event.key)) event.stopPropagation();
  },
});

// A script gets room to be written in; it scrolls past about 30 lines.
const scriptSize = EditorView.theme({
  ".cm-content, .cm-gutter": { minHeight: "12em" },
  "&": { maxHeight: "32em" },
  ".cm-scroller": { overflow: "auto" },
});

/** smallestChange is the one change that turns a into b, touching only
 * what differs, so the cursor stays where it was. */
function smallestChange(a: string, b: string) {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  return { from: start, to: endA, insert: b.slice(start, endB) };
}

export interface CodeFieldProps {
  mode: EditorMode;
  value: string;
  onChange: (text: string) => void;
  /** The id of the editable element, for <label htmlFor> and lookups. */
  id?: string;
  /** The id of the element that names the field. */
  labelledBy?: string;
  /** The field's name, when no element names it. */
  label?: string;
  /** The paths of real data to complete. */
  paths?: string[];
  placeholder?: string;
  /** The id of the element that says what is wrong with the value. */
  describedBy?: string;
  /** Enter inserts no line break, as in a one-line input (a URL, a header). */
  singleLine?: boolean;
}

/** CodeField is a controlled CodeMirror editor of one field's text. */
export function CodeField({ mode, value, onChange, id, labelledBy, label, paths = [], placeholder, describedBy, singleLine = false }: CodeFieldProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  // The editor is made once per mode; these are read when it needs them.
  const latest = useRef({ onChange, paths });
  useEffect(() => {
    latest.current = { onChange, paths };
  });
  const attributes = useRef(new Compartment());
  const hint = useRef(new Compartment());

  const contentAttributes = (): Record<string, string> => {
    // Focusable already (contenteditable), but said so: a checker then
    // knows the scroller around it is reachable by keyboard.
    const attrs: Record<string, string> = { tabindex: "0" };
    if (id) attrs.id = id;
    if (labelledBy) attrs["aria-labelledby"] = labelledBy;
    if (label) attrs["aria-label"] = label;
    if (describedBy) attrs["aria-describedby"] = describedBy;
    return attrs;
  };

  useEffect(() => {
    const extensions: Extension[] = [
      history(),
      // No Tab binding: Tab and Shift-Tab move the focus, as in any form.
      keymap.of([...historyKeymap, ...defaultKeymap]),
      autocompletion({ override: [completionSource(mode, () => latest.current.paths)] }),
      EditorView.lineWrapping,
      keepUndoKeys,
      pathDrops(mode),
      dropCursor(),
      attributes.current.of(EditorView.contentAttributes.of(contentAttributes())),
      hint.current.of(placeholder ? placeholderText(placeholder) : []),
      EditorView.updateListener.of((update) => {
        if (update.docChanged && !update.transactions.some((t) => t.annotation(fromOutside))) {
          latest.current.onChange(update.state.doc.toString());
        }
      }),
    ];
    if (mode === "template" || mode === "json") extensions.push(closePlaceholder);
    // Above the default keymap's line break, below the completion keymap
    // (highest), so Enter still takes a completion.
    if (singleLine) extensions.push(Prec.high(keymap.of([{ key: "Enter", run: () => true }])));
    if (mode === "json") extensions.push(json(), syntaxHighlighting(defaultHighlightStyle, { fallback: true }));
    // Line numbers, since the server's errors name a script's line and column.
    if (mode === "javascript") extensions.push(javascript(), lineNumbers(), syntaxHighlighting(defaultHighlightStyle, { fallback: true }), scriptSize);
    const editor = new EditorView({ parent: host.current!, state: EditorState.create({ doc: value, extensions }) });
    view.current = editor;
    return () => {
      editor.destroy();
      view.current = null;
    };
    // The editor keeps its own state; value, attributes and the placeholder
    // reach it through the effects below.
  }, [mode, singleLine]);

  useEffect(() => {
    view.current?.dispatch({ effects: attributes.current.reconfigure(EditorView.contentAttributes.of(contentAttributes())) });
  }, [id, labelledBy, label, describedBy, mode]);

  useEffect(() => {
    view.current?.dispatch({ effects: hint.current.reconfigure(placeholder ? placeholderText(placeholder) : []) });
  }, [placeholder]);

  // A value from outside (undo on the canvas, another version) replaces the
  // text; the user's own edits come back equal and change nothing.
  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    const current = editor.state.doc.toString();
    if (current === value) return;
    editor.dispatch({ changes: smallestChange(current, value), annotations: fromOutside.of(true) });
  }, [value]);

  return <div ref={host} className={`code-field code-field-${mode} nokey`} />;
}

/** jsonText is how a JSON field shows a value. */
function jsonText(value: unknown): string {
  return value === undefined ? "" : JSON.stringify(value, null, 2);
}

/** parseJSON reads a JSON field's text: undefined when empty. */
function parseJSON(text: string): { value: unknown } | { error: string } {
  if (text.trim() === "") return { value: undefined };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (err) {
    return { error: `not JSON yet: ${errorMessage(err)}` };
  }
}

/** sameJSON says whether text is the JSON of value (or empty for none). */
function sameJSON(text: string, value: unknown): boolean {
  const parsed = parseJSON(text);
  return "value" in parsed && JSON.stringify(parsed.value) === JSON.stringify(value);
}

/** JSONField edits any JSON value as text; it passes the value on only when
 * the text parses (undefined when emptied), and says why otherwise. */
export function JSONField({
  value,
  onChange,
  ...rest
}: Omit<CodeFieldProps, "mode" | "value" | "onChange" | "describedBy"> & { value: unknown; onChange: (value: unknown) => void }) {
  const [text, setText] = useState(() => jsonText(value));
  // A new value from outside (an undo on the canvas) replaces the text,
  // unless the text already says it, in the user's own layout.
  useEffect(() => {
    setText((current) => (sameJSON(current, value) ? current : jsonText(value)));
  }, [value]);
  const parsed = parseJSON(text);
  const error = "error" in parsed ? parsed.error : "";
  const errorId = rest.id ? `${rest.id}-error` : undefined;
  return (
    <>
      <CodeField
        {...rest}
        mode="json"
        value={text}
        describedBy={error ? errorId : undefined}
        onChange={(next) => {
          setText(next);
          const read = parseJSON(next);
          if ("value" in read) onChange(read.value);
        }}
      />
      {error && (
        <small id={errorId} className="problem">
          {error}
        </small>
      )}
    </>
  );
}

/** How long typing must pause before a preview is asked for. */
export const previewDelayMs = 300;

type PreviewState =
  | { status: "none" }
  | { status: "value"; text: string; truncated: boolean }
  | { status: "error"; message: string };

/** previewText is a value as the preview shows it: compact JSON. */
export function previewText(preview: Preview): string {
  // A truncated value is the start of its JSON text already.
  if (preview.truncated) return `${String(preview.value)}…`;
  return preview.value === undefined ? "undefined" : JSON.stringify(preview.value);
}

/** ValuePreview shows what an expression or template gives with the sample
 * data, asked for once typing pauses; the last answer stays (dimmed) while
 * the next one is on its way. */
export function ValuePreview({
  source,
  mode,
  scope,
  preview,
  id,
}: {
  source: string;
  mode: "expression" | "template";
  /** The sample data; undefined when there is none yet. */
  scope?: PreviewScope;
  preview: PreviewFn;
  /** For the field's aria-describedby: the preview describes the field. */
  id?: string;
}) {
  const [state, setState] = useState<PreviewState>({ status: "none" });
  const [pending, setPending] = useState(false);
  // Callers may pass a new function on each render; only source and scope
  // changes ask again.
  const ask = useRef(preview);
  useEffect(() => {
    ask.current = preview;
  });
  // A template without placeholders previews as itself: nothing to ask.
  const asks = source.trim() !== "" && scope !== undefined && (mode === "expression" || source.includes("{{"));

  useEffect(() => {
    if (!asks) {
      setState({ status: "none" });
      setPending(false);
      return;
    }
    let current = true;
    setPending(true);
    const timer = setTimeout(() => {
      ask.current(mode === "expression" ? { expression: source } : { template: source }, scope)
        .then((answer) => current && setState({ status: "value", text: previewText(answer), truncated: Boolean(answer.truncated) }))
        .catch((err: unknown) => current && setState({ status: "error", message: errorMessage(err) }))
        .finally(() => current && setPending(false));
    }, previewDelayMs);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [asks, source, mode, scope]);

  if (source.trim() === "") return null;
  if (scope === undefined) {
    return (
      <small id={id} className="help preview-hint">
        Run a test or listen for an event to preview with real data.
      </small>
    );
  }
  if (!asks) return null;
  return (
    <div id={id} className={`preview${pending ? " preview-stale" : ""}`} aria-live="polite" aria-busy={pending}>
      {state.status === "value" && (
        <>
          <code className="mono preview-value">{state.text}</code>
          {state.truncated && <small className="help"> (cut: the value is longer)</small>}
        </>
      )}
      {state.status === "error" && <small className="problem">{state.message}</small>}
      {state.status === "none" && <small className="help">Previewing…</small>}
    </div>
  );
}
