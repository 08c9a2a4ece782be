import { describe, expect, it } from "vitest";
import type { FlowNode, Run, Step } from "./api";
import { ancestorsOf, inputOf, loopOf, mergeRun, parentsOf, pinOf, pinsToTestAlone, withPin, type Known, type Link } from "./nodedata";

// hook → amount → big -true→ vip → join; big -false→ small → join
const edges: Link[] = [
  { source: "hook", target: "amount" },
  { source: "amount", target: "big" },
  { source: "big", target: "vip", sourceHandle: "true" },
  { source: "big", target: "small", sourceHandle: "false" },
  { source: "vip", target: "join" },
  { source: "small", target: "join" },
];

function run(steps: Partial<Step>[]): Run {
  return { steps } as unknown as Run;
}

describe("parentsOf and ancestorsOf", () => {
  it("lists direct parents once and every ancestor nearest first", () => {
    expect(parentsOf("join", edges)).toEqual(["vip", "small"]);
    expect(ancestorsOf("join", edges)).toEqual(["vip", "small", "big", "amount", "hook"]);
    expect(ancestorsOf("hook", edges)).toEqual([]);
  });
  it("ends on a cycle", () => {
    expect(ancestorsOf("a", [{ source: "a", target: "b" }, { source: "b", target: "a" }])).toEqual(["b"]);
  });
});

describe("loopOf", () => {
  const nodes = [
    { id: "hook", type: "trigger.webhook" },
    { id: "each", type: "foreach", params: { items: "trigger.body.lines" } },
    { id: "line", type: "transform" },
    { id: "after", type: "transform" },
  ] as FlowNode[];
  const loopEdges: Link[] = [
    { source: "hook", target: "each" },
    { source: "each", target: "line", sourceHandle: "each" },
    { source: "each", target: "after", sourceHandle: "done" },
  ];
  it.each([
    ["line", "each"],
    ["after", null],
    ["each", null],
    ["hook", null],
  ])("finds the loop of %s", (id, want) => {
    expect(loopOf(id, nodes, loopEdges)?.id ?? null).toBe(want);
  });
  it("reaches the loop through nodes inside it", () => {
    const deeper = [...loopEdges, { source: "line", target: "deep" }];
    expect(loopOf("deep", [...nodes, { id: "deep", type: "transform" } as FlowNode], deeper)?.id).toBe("each");
  });
});

describe("mergeRun", () => {
  it("keeps what earlier tests gave for nodes that did not run this time", () => {
    const first = mergeRun({}, run([{ node_id: "amount", status: "succeeded", output: { usd: 1 } }]));
    const second = mergeRun(
      first,
      run([
        { node_id: "amount", status: "skipped" },
        { node_id: "big", status: "succeeded", output: { usd: 1 }, port: "true" },
        { node_id: "vip", status: "failed", error: "boom" },
        { node_id: "line", status: "succeeded", output: "element", iteration: "2" },
      ]),
    );
    expect(second).toEqual({ amount: { output: { usd: 1 } }, big: { output: { usd: 1 }, port: "true" } });
  });
});

describe("pins", () => {
  const node = { id: "crm", type: "http.request", ui: { x: 10, y: 20 } } as FlowNode;
  it("pins and unpins, keeping the node's place", () => {
    const pinned = withPin(node, { output: { id: 7 } });
    expect(pinOf(pinned)).toEqual({ output: { id: 7 } });
    expect(pinned.ui).toEqual({ x: 10, y: 20, pin: { output: { id: 7 } } });
    expect(withPin(pinned, null).ui).toEqual({ x: 10, y: 20 });
    expect(pinOf(node)).toBeUndefined();
  });
  it("pins a tested node's parents with their known outputs, not the trigger nor unknown ones", () => {
    const known: Record<string, Known> = { vip: { output: { text: "VIP" } }, big: { output: {}, port: "true" } };
    expect(pinsToTestAlone("join", edges, known, new Set(["hook"]))).toEqual({ vip: { output: { text: "VIP" } } });
    expect(pinsToTestAlone("vip", edges, known, new Set(["hook"]))).toEqual({ big: { output: {}, port: "true" } });
    expect(pinsToTestAlone("amount", edges, { hook: { output: {} } }, new Set(["hook"]))).toEqual({});
  });
});

describe("inputOf", () => {
  const known: Record<string, Known> = { vip: { output: { text: "VIP" } }, small: { output: { text: "small" } }, amount: { output: { usd: 2 } } };
  it.each([
    ["the recorded input wins", "big", { recorded: true }, { recorded: true }],
    ["one parent gives its output", "big", undefined, { usd: 2 }],
    ["several parents give theirs by id", "join", undefined, { vip: { text: "VIP" }, small: { text: "small" } }],
    ["nothing known gives nothing", "amount", undefined, undefined],
  ])("%s", (_, id, recorded, want) => {
    expect(inputOf(id, edges, known, recorded)).toEqual(want);
  });
});
