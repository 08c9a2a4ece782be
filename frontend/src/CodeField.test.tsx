import { currentCompletions, startCompletion } from "@codemirror/autocomplete";
import { EditorView, runScopeHandlers } from "@codemirror/view";
import { act } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, type Preview, type PreviewScope } from "./api";
import { CodeField, insertPath, JSONField, previewDelayMs, ValuePreview } from "./CodeField";
import { pathType } from "./dataview";
import { mounted } from "./testing";

/** editor is the CodeMirror view of the field with that id. */
function editor(container: HTMLElement, id: string): EditorView {
  const content = container.querySelector<HTMLElement>(`#${id}`);
  expect(content, `#${id} is drawn`).not.toBeNull();
  return EditorView.findFromDOM(content!)!;
}

/** typeText types text at the cursor, as the keyboard would. */
function typeText(view: EditorView, text: string) {
  act(() => view.dispatch(view.state.replaceSelection(text), { userEvent: "input.type", scrollIntoView: true }));
}

/** replaceAll replaces the whole text, as a paste over a selection would. */
function replaceAll(view: EditorView, text: string) {
  act(() => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, userEvent: "input.paste" }));
}

describe("CodeField", () => {
  const ctx = mounted();

  it("names its editable element and reports typing", async () => {
    const onChange = vi.fn();
    await ctx.render(
      <>
        <label id="cond-label">Condition</label>
        <CodeField mode="expression" id="cond" labelledBy="cond-label" value="" onChange={onChange} />
      </>,
    );
    const content = ctx.container.querySelector("#cond")!;
    expect(content.classList.contains("cm-content")).toBe(true);
    expect(content.getAttribute("contenteditable")).toBe("true");
    expect(content.getAttribute("role")).toBe("textbox");
    expect(content.getAttribute("aria-labelledby")).toBe("cond-label");

    const view = editor(ctx.container, "cond");
    typeText(view, "trigger.body.amount > 100");
    expect(onChange).toHaveBeenLastCalledWith("trigger.body.amount > 100");
  });

  it("shows a value from outside without reporting it, and keeps the cursor when it is the same", async () => {
    const onChange = vi.fn();
    const draw = (value: string) => ctx.render(<CodeField mode="expression" id="f" value={value} onChange={onChange} />);
    await draw("input.total");
    const view = editor(ctx.container, "f");
    act(() => view.dispatch({ selection: { anchor: 3 } }));

    await draw("input.total");
    expect(view.state.selection.main.head).toBe(3);

    await draw("input.total * 2"); // as an undo on the canvas would
    expect(view.state.doc.toString()).toBe("input.total * 2");
    expect(ctx.container.querySelector("#f")!.textContent).toBe("input.total * 2");
    expect(view.state.selection.main.head, "the cursor stays before the change").toBe(3);
    expect(onChange).not.toHaveBeenCalled();
  });

  it("leaves Tab to move the focus", async () => {
    await ctx.render(<CodeField mode="template" id="t" value="x" onChange={() => {}} />);
    const view = editor(ctx.container, "t");
    for (const shiftKey of [false, true]) {
      const handled = runScopeHandlers(view, new KeyboardEvent("keydown", { key: "Tab", shiftKey }), "editor");
      expect(handled, `${shiftKey ? "Shift-" : ""}Tab is not the editor's`).toBe(false);
    }
  });

  it("takes no line break in a one-line field, and does in another", async () => {
    for (const singleLine of [true, false]) {
      const onChange = vi.fn();
      await ctx.render(<CodeField key={String(singleLine)} mode="template" id="u" value="https://x.example" singleLine={singleLine} onChange={onChange} />);
      const view = editor(ctx.container, "u");
      act(() => view.dispatch({ selection: { anchor: view.state.doc.length } }));
      act(() => void runScopeHandlers(view, new KeyboardEvent("keydown", { key: "Enter" }), "editor"));
      expect(view.state.doc.lines, singleLine ? "one-line" : "multiline").toBe(singleLine ? 1 : 2);
    }
  });

  it("keeps Ctrl+Z for its own history, away from the canvas's", async () => {
    const onChange = vi.fn();
    await ctx.render(<CodeField mode="expression" id="f" value="" onChange={onChange} />);
    const view = editor(ctx.container, "f");
    typeText(view, "input.total");
    const canvas = vi.fn();
    window.addEventListener("keydown", canvas);
    try {
      act(() => void view.contentDOM.dispatchEvent(new KeyboardEvent("keydown", { key: "z", ctrlKey: true, bubbles: true, cancelable: true })));
    } finally {
      window.removeEventListener("keydown", canvas);
    }
    expect(view.state.doc.toString(), "the editor undid the typing").toBe("");
    expect(onChange).toHaveBeenLastCalledWith("");
    expect(canvas, "the key did not reach the canvas's handler").not.toHaveBeenCalled();
  });

  it("completes known paths, and in a template only inside {{ }}", async () => {
    const paths = ["trigger", "trigger.body", "trigger.body.amount", "steps.transform", "steps.transform.total"];
    await ctx.render(<CodeField mode="template" id="t" value="" paths={paths} onChange={() => {}} />);
    const view = editor(ctx.container, "t");
    const offered = async () => {
      act(() => void startCompletion(view));
      await act(async () => new Promise((r) => setTimeout(r, 50)));
      return currentCompletions(view.state).map((c) => c.label);
    };

    typeText(view, "Total steps.tr");
    expect(await offered(), "outside a placeholder").toEqual([]);

    replaceAll(view, "Total {{ steps.tr");
    act(() => view.dispatch({ selection: { anchor: view.state.doc.length } }));
    expect(await offered()).toEqual(["steps.transform", "steps.transform.total"]);
  });

  it("closes a placeholder when {{ is typed in a template", async () => {
    const onChange = vi.fn();
    await ctx.render(<CodeField mode="template" id="t" value="Hi {" onChange={onChange} />);
    const view = editor(ctx.container, "t");
    act(() => view.dispatch({ selection: { anchor: 4 } }));
    const handlers = view.state.facet(EditorView.inputHandler);
    let handled = false;
    act(() => {
      handled = handlers.some((h) => h(view, 4, 4, "{", () => view.state.update({ changes: { from: 4, insert: "{" } })));
    });
    expect(handled).toBe(true);
    expect(view.state.doc.toString()).toBe("Hi {{  }}");
    expect(view.state.selection.main.head, "the cursor is inside").toBe(6);
    expect(onChange).toHaveBeenLastCalledWith("Hi {{  }}");
  });
});

/** dropPath drops a path dragged from a data view on the editor. */
function dropPath(view: EditorView, path: string) {
  const types = [pathType, "text/plain"];
  const dataTransfer = { types, files: [], getData: (type: string) => (types.includes(type) ? path : ""), dropEffect: "" };
  const event = new Event("drop", { bubbles: true, cancelable: true });
  Object.assign(event, { dataTransfer, clientX: 0, clientY: 0 });
  act(() => void view.contentDOM.dispatchEvent(event));
  return event;
}

describe("dropping a path", () => {
  const ctx = mounted();

  it.each([
    ["expression", "a + ", "a + trigger.body.amount"],
    ["template", "Total: ", "Total: {{ trigger.body.amount }}"],
    ["json", '{"total": ', '{"total": "{{ trigger.body.amount }}"'],
  ] as const)("inserts what the field needs where the path drops, in %s mode", async (mode, text, want) => {
    const onChange = vi.fn();
    await ctx.render(<CodeField mode={mode} id="f" value={text} onChange={onChange} />);
    const view = editor(ctx.container, "f");
    // jsdom lays nothing out; the drop's coordinates are at the text's end.
    vi.spyOn(view, "posAtCoords").mockReturnValue(text.length);
    const event = dropPath(view, "trigger.body.amount");
    expect(event.defaultPrevented, "the editor's own drop of the plain text does not run").toBe(true);
    expect(view.state.doc.toString()).toBe(want);
    expect(onChange).toHaveBeenLastCalledWith(want);
    expect(view.state.selection.main.head, "the cursor is after the path").toBe(want.length);
  });

  it("inserts at the cursor when the drop has no position in the text", async () => {
    await ctx.render(<CodeField mode="expression" id="f" value="len()" onChange={() => {}} />);
    const view = editor(ctx.container, "f");
    act(() => view.dispatch({ selection: { anchor: 4 } }));
    vi.spyOn(view, "posAtCoords").mockReturnValue(null);
    dropPath(view, "input.n");
    expect(view.state.doc.toString()).toBe("len(input.n)");
  });

  it("leaves other drops to the editor", async () => {
    await ctx.render(<CodeField mode="template" id="f" value="" onChange={() => {}} />);
    const view = editor(ctx.container, "f");
    const event = new Event("drop", { bubbles: true, cancelable: true });
    Object.assign(event, { dataTransfer: { types: [], files: [], getData: () => "" }, clientX: 0, clientY: 0 });
    act(() => void view.contentDOM.dispatchEvent(event));
    expect(view.state.doc.toString()).toBe("");
  });

  it("inserts a path when asked, inside a placeholder as a bare path", async () => {
    await ctx.render(<CodeField mode="template" id="f" value="Hi {{  }}" onChange={() => {}} />);
    const view = editor(ctx.container, "f");
    act(() => insertPath(view, "template", "steps.s.name", 6));
    expect(view.state.doc.toString()).toBe("Hi {{ steps.s.name }}");
  });
});

describe("JSONField", () => {
  const ctx = mounted();

  it("passes on only text that parses, and says why otherwise", async () => {
    const onChange = vi.fn();
    await ctx.render(<JSONField id="body" value={{ a: 1 }} onChange={onChange} />);
    const view = editor(ctx.container, "body");
    expect(view.state.doc.toString()).toBe('{\n  "a": 1\n}');
    expect(ctx.container.querySelector(".code-field-json")).not.toBeNull();

    replaceAll(view, '{"order": "{{ input.id }}"}');
    expect(onChange).toHaveBeenLastCalledWith({ order: "{{ input.id }}" });

    const calls = onChange.mock.calls.length;
    replaceAll(view, '{"order": ');
    expect(onChange.mock.calls.length, "text that is not JSON yet changes nothing").toBe(calls);
    expect(ctx.container.querySelector(".problem")?.textContent).toMatch(/^not JSON yet: /);
    expect(ctx.container.querySelector("#body")!.getAttribute("aria-describedby")).toBe("body-error");

    replaceAll(view, "");
    expect(onChange).toHaveBeenLastCalledWith(undefined);
    expect(ctx.container.querySelector(".problem")).toBeNull();
  });

  it("shows a new value from outside, but keeps the user's own layout of the same value", async () => {
    let value: unknown = [1];
    const onChange = vi.fn((v: unknown) => (value = v));
    const draw = () => ctx.render(<JSONField id="list" value={value} onChange={onChange} />);
    await draw();
    const view = editor(ctx.container, "list");
    replaceAll(view, "[1,    2]");
    await draw();
    expect(view.state.doc.toString(), "the user's spacing stays").toBe("[1,    2]");

    value = ["GET", "POST"]; // as an undo on the canvas would
    await draw();
    expect(view.state.doc.toString()).toBe('[\n  "GET",\n  "POST"\n]');
  });
});

describe("ValuePreview", () => {
  const ctx = mounted();
  afterEach(() => vi.useRealTimers());
  const scope: PreviewScope = { trigger: { body: { amount: 5 } }, steps: {} };

  it("asks once typing pauses, and shows the value as compact JSON", async () => {
    vi.useFakeTimers();
    const preview = vi.fn(async (): Promise<Preview> => ({ value: { total: 10, note: "ok" } }));
    const draw = (source: string) => ctx.render(<ValuePreview source={source} mode="expression" scope={scope} preview={preview} />);
    for (const source of ["t", "tr", "trigger.body", "trigger.body.amount * 2"]) {
      await draw(source);
      await act(async () => vi.advanceTimersByTime(100));
    }
    expect(preview, "nothing while typing").not.toHaveBeenCalled();
    await act(async () => vi.advanceTimersByTime(previewDelayMs));
    expect(preview).toHaveBeenCalledTimes(1);
    expect(preview).toHaveBeenCalledWith({ expression: "trigger.body.amount * 2" }, scope);
    expect(ctx.container.querySelector(".preview")?.textContent).toBe('{"total":10,"note":"ok"}');
  });

  it("previews a template's rendered text, quoted, and a long value as cut", async () => {
    vi.useFakeTimers();
    const preview = vi.fn(async (source: { expression: string } | { template: string }): Promise<Preview> =>
      "template" in source ? { value: "https://api.example/orders/5" } : { value: '{"a":"xxx', truncated: true },
    );
    await ctx.render(<ValuePreview source="https://api.example/orders/{{ trigger.body.amount }}" mode="template" scope={scope} preview={preview} />);
    await act(async () => vi.advanceTimersByTime(previewDelayMs));
    expect(preview).toHaveBeenCalledWith({ template: "https://api.example/orders/{{ trigger.body.amount }}" }, scope);
    expect(ctx.container.querySelector(".preview-value")?.textContent).toBe('"https://api.example/orders/5"');

    await ctx.render(<ValuePreview source="trigger.body" mode="expression" scope={scope} preview={preview} />);
    await act(async () => vi.advanceTimersByTime(previewDelayMs));
    expect(ctx.container.querySelector(".preview-value")?.textContent).toBe('{"a":"xxx…');
    expect(ctx.container.querySelector(".preview")?.textContent).toContain("cut");
  });

  it("shows why a source fails, in the problem style", async () => {
    vi.useFakeTimers();
    const preview = vi.fn(async (): Promise<Preview> => {
      throw new ApiError(422, "unknown name trigerr (line 1, column 1)", [{ node: "", field: "expression", message: "unknown name trigerr (line 1, column 1)" }]);
    });
    await ctx.render(<ValuePreview source="trigerr.body" mode="expression" scope={scope} preview={preview} />);
    await act(async () => vi.advanceTimersByTime(previewDelayMs));
    expect(ctx.container.querySelector(".preview .problem")?.textContent).toBe("unknown name trigerr (line 1, column 1)");
  });

  it("shows nothing for an empty field, and a hint without sample data", async () => {
    vi.useFakeTimers();
    const preview = vi.fn(async (): Promise<Preview> => ({ value: 1 }));
    await ctx.render(<ValuePreview source="  " mode="expression" scope={scope} preview={preview} />);
    await act(async () => vi.advanceTimersByTime(previewDelayMs * 2));
    expect(ctx.container.textContent).toBe("");

    await ctx.render(<ValuePreview source="trigger.body" mode="expression" preview={preview} />);
    await act(async () => vi.advanceTimersByTime(previewDelayMs * 2));
    expect(ctx.container.textContent).toMatch(/Run a test or listen for an event/);
    expect(preview).not.toHaveBeenCalled();
  });
});
