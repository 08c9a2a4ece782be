// A sticky note on the editor's canvas: a node of its own type, never
// connected, that the flow keeps in its ui.notes (see graph.ts).
import { NodeResizer, useReactFlow, type NodeProps } from "@xyflow/react";
import { Trash } from "lucide-react";
import type { FlowNote } from "./api";
import { noteColors, type NoteNode } from "./graph";

export function NoteView({ id, data, selected }: NodeProps<NoteNode>) {
  const flow = useReactFlow();
  const { note } = data;
  // Changes go through React Flow, which hands them to the editor's state.
  const change = (to: Partial<FlowNote>) => flow.updateNodeData(id, { note: { ...note, ...to } });
  if (data.readOnly) {
    return (
      <div className="note" data-color={note.color ?? "yellow"} role="note" aria-label="Sticky note">
        <p className="note-text">{note.text}</p>
      </div>
    );
  }
  return (
    <div className="note" data-color={note.color ?? "yellow"} role="group" aria-label="Sticky note">
      <NodeResizer isVisible={selected} minWidth={120} minHeight={80} />
      <label htmlFor={`${id}-text`} className="note-label">
        Note text
      </label>
      <textarea
        id={`${id}-text`}
        className="nodrag nowheel"
        value={note.text}
        placeholder="Write a note…"
        onChange={(e) => change({ text: e.target.value })}
      />
      <div className="note-tools">
        {noteColors.map((color) => (
          <button
            key={color}
            type="button"
            className="note-swatch"
            data-color={color}
            aria-label={`Colour ${color}`}
            aria-pressed={(note.color ?? "yellow") === color}
            onClick={() => change({ color })}
          />
        ))}
        <button type="button" className="note-delete" aria-label="Delete note" title="Delete note" onClick={() => void flow.deleteElements({ nodes: [{ id }] })}>
          <Trash size={14} aria-hidden="true" />
        </button>
      </div>
    </div>
  );
}
