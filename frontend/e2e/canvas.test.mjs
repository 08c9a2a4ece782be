// Browser tests of the canvas as n8n users know it: each kind's icon, a
// test run's statuses and item counts on nodes and edges, a pinned output's
// marker, and sticky notes kept with the flow (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { useServer, shots } from "./harness.mjs";

const env = useServer();

const { json, createFlow } = env;

test("the palette draws every kind's own icon", async (t) => {
  const { node_types: types } = await json("/api/v1/node-types");
  const page = await env.login(t);
  const flow = await createFlow({ name: "Icons", nodes: [{ id: "hook", type: "trigger.webhook" }], edges: [] });
  await page.goto(`${env.baseURL}/flows/${flow.id}`);
  const palette = page.getByRole("complementary", { name: "Node palette" });
  await palette.getByRole("button", { name: "Webhook", exact: true }).waitFor();
  // An icon the editor does not know is drawn as a box.
  const boxed = await palette.locator("button").evaluateAll((buttons) =>
    buttons.filter((b) => b.querySelector("svg.lucide-box")).map((b) => b.textContent),
  );
  assert.deepEqual(boxed, types.filter((k) => k.icon === "box").map((k) => k.title));
  assert.equal(await palette.locator("button svg").count(), types.length, "one icon a kind");
  await page.locator('[data-node="hook"] svg.lucide-webhook').waitFor();
});

test("a test run shows each node's status and items and each edge's; a pinned node is marked", async (t) => {
  const flow = await createFlow({
    name: "Loop the lines",
    nodes: [
      { id: "hook", type: "trigger.webhook", ui: { x: 0, y: 0 } },
      { id: "lines", type: "transform", params: { fields: { items: "trigger.body.items" } }, ui: { x: 300, y: 0, pin: { output: { items: [1, 2, 3] } } } },
      { id: "each", type: "foreach", params: { items: "input.items" }, ui: { x: 600, y: 0 } },
      { id: "double", type: "transform", params: { fields: { n: "item * 2" } }, ui: { x: 900, y: -80 } },
    ],
    edges: [
      { from: "hook", to: "lines" },
      { from: "lines", to: "each" },
      { from: "each", to: "double", port: "each" },
    ],
  });
  const page = await env.login(t);
  await page.goto(`${env.baseURL}/flows/${flow.id}`);
  const pinned = page.locator('[data-node="lines"]').getByRole("img", { name: "Output pinned" });
  await pinned.waitFor();
  assert.equal(await page.locator('[data-node="double"]').getByRole("img", { name: "Output pinned" }).count(), 0);

  await page.getByRole("button", { name: "Test", exact: true }).click();
  const double = page.locator('[data-node="double"][data-result="succeeded"]');
  await double.waitFor();
  assert.match(await double.locator(".node-result").textContent(), /^succeeded · 3 items · /);
  assert.equal(await page.locator('[data-node="each"] .node-items').textContent(), " · 3 iterations");
  assert.equal(await page.locator('[data-node="lines"] .node-items').textContent(), " · 1 item", "the pinned output, one object");
  const edge = page.locator('.edge-items[data-edge="each:each->double"]');
  assert.equal(await edge.textContent(), "3 items");
  assert.equal(await page.locator('.edge-items[data-edge="lines:->each"]').textContent(), "1 item");
  await page.screenshot({ path: join(shots, "canvas-counts.png") });
  // The count sits clear of the port's name beside the foreach's handle.
  const [label, port] = [await edge.boundingBox(), await page.locator('[data-node="each"] .port-label', { hasText: "each" }).boundingBox()];
  const overlap = label.x < port.x + port.width && port.x < label.x + label.width && label.y < port.y + port.height && port.y < label.y + label.height;
  assert.ok(!overlap, `edge count ${JSON.stringify(label)} overlaps the port label ${JSON.stringify(port)}`);

  // Run history's canvas shows the same.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs" }).click();
  await page.getByRole("link", { name: /^Open run / }).first().click();
  const ran = page.locator('[aria-label="Flow version 1 as it ran"]');
  await ran.locator('[data-node="double"] .node-items', { hasText: "3 items" }).waitFor();
  await ran.locator('.edge-items[data-edge="each:each->double"]', { hasText: "3 items" }).waitFor();
});

test("a sticky note is added, written, kept through a save and a reload, and deleted", async (t) => {
  const flow = await createFlow({
    name: "Noted",
    nodes: [{ id: "hook", type: "trigger.webhook", ui: { x: 0, y: 0 } }],
    edges: [],
    ui: { zoom: 1.5 },
  });
  const page = await env.login(t);
  await page.goto(`${env.baseURL}/flows/${flow.id}`);
  await page.locator('[data-node="hook"]').waitFor();

  await page.getByRole("button", { name: "Add note" }).click();
  const note = page.locator('.react-flow__node[data-id="note:note"]');
  const text = note.getByLabel("Note text");
  // The keyboard goes to the new note's text.
  await page.waitForFunction(() => document.activeElement?.id === "note:note-text");
  await page.keyboard.type("Ask the CRM team before going live");
  await note.getByRole("button", { name: "Colour green" }).click();
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText("Saved as version 2.").waitFor();
  await page.screenshot({ path: join(shots, "canvas-note.png") });

  await page.reload();
  await text.waitFor();
  assert.equal(await text.inputValue(), "Ask the CRM team before going live");
  assert.equal(await note.locator(".note").getAttribute("data-color"), "green");
  const saved = await json(`/api/v1/flows/${flow.id}`);
  assert.equal(saved.ui.zoom, 1.5, "the editor's other ui keys are kept");
  assert.deepEqual(
    saved.ui.notes.map(({ id, text: body, color }) => ({ id, body, color })),
    [{ id: "note", body: "Ask the CRM team before going live", color: "green" }],
  );
  assert.deepEqual(saved.nodes.map((n) => n.id), ["hook"], "a note is no flow node");

  // Selected on the canvas, Delete removes it; the flow keeps the rest of its ui.
  await note.focus();
  await page.keyboard.press("Enter");
  await page.keyboard.press("Delete");
  await note.waitFor({ state: "detached" });
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText("Saved as version 3.").waitFor();
  assert.deepEqual((await json(`/api/v1/flows/${flow.id}`)).ui, { zoom: 1.5 });
});
