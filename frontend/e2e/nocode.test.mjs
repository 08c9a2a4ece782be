// A browser test of building a flow without typing a path: a new user
// captures a request, drags its fields into a transform and a Slack
// message, pins the transform's output, tests the Slack node alone against
// a local stand-in for Slack, and reads the run's data as a table, JSON
// and a schema (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { join } from "node:path";
import { useServer, shots } from "./harness.mjs";

const env = useServer();

/** slackSink stands in for a Slack incoming webhook on loopback: it answers
 * "ok" as Slack does and keeps each message it gets. */
async function slackSink() {
  const messages = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      messages.push(JSON.parse(body));
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("ok");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}/services/T0/B0/x`, messages, close: () => server.close() };
}

/** field is a data view's field, found by the path it stands for. */
const field = (scope, path) => scope.locator(`[title="${path} — drag into a field, or press to copy"]`).first();

/** connect joins two nodes from the first one's Connections section. */
async function connect(page, from, to) {
  await page.locator(`[data-node="${from}"]`).click();
  const form = page.getByRole("form", { name: `Connect ${from}` });
  await form.getByLabel("Connect to node").selectOption(to);
  await form.getByRole("button", { name: "Connect" }).click();
}

test("a new user maps fields by dragging, pins an output and tests one node alone", async (t) => {
  const slack = await slackSink();
  t.after(() => slack.close());
  await env.json("/api/v1/credentials", { method: "POST", body: JSON.stringify({ name: "team-slack", type: "slack", data: { webhook_url: slack.url } }) });
  const flow = await env.createFlow({ name: "Orders to Slack", nodes: [{ id: "hook", type: "trigger.webhook", ui: { x: 0, y: 0 } }], edges: [] });

  const page = await env.login(t);
  await page.goto(`${env.baseURL}/flows/${flow.id}`);

  // Capture a real request as the sample.
  await page.locator('[data-node="hook"]').click();
  await page.getByRole("button", { name: "Listen for test event" }).click();
  await page.getByRole("button", { name: /Listening/ }).waitFor();
  const order = { order: { id: 1042, amount: 21.5, customer: { email: "ada@example.com" } } };
  let captured = 0;
  for (let i = 0; i < 50 && captured !== 200; i++) {
    captured = (await fetch(flow.triggers[0].url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(order) })).status;
    if (captured !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(captured, 200);
  await page.getByText("Captured a POST request.").waitFor();

  // A transform after the trigger, connected from the hook's Connections.
  const palette = page.getByRole("complementary", { name: "Node palette" });
  await palette.getByRole("button", { name: "Transform", exact: true }).click();
  await connect(page, "hook", "transform");
  await page.locator('[data-node="transform"]').click();

  // The input pane shows the captured request; its fields drag into the form.
  const transformView = page.getByRole("region", { name: "Node view transform" });
  const input = transformView.getByRole("region", { name: "Input of transform" });
  await input.getByText("Trigger").first().waitFor();
  const transform = page.getByRole("complementary", { name: "Node transform" });
  for (const [name, path] of [["id", "trigger.body.order.id"], ["total", "trigger.body.order.amount"]]) {
    await transform.getByRole("button", { name: "Add" }).click();
    await transform.getByLabel("Name", { exact: true }).last().fill(name);
    await field(input, path).dragTo(transform.getByLabel(`Value of ${name}`, { exact: true }));
    assert.equal(await transform.getByLabel(`Value of ${name}`, { exact: true }).textContent(), path, `dropping ${path} writes its path`);
  }
  await page.screenshot({ path: join(shots, "node-view-mapped.png") });

  // Test up to the transform, then pin what it gave.
  await transformView.getByRole("button", { name: "Test up to here" }).click();
  const output = transformView.getByRole("region", { name: "Output of transform" });
  await output.getByLabel("Test output of transform", { exact: true }).getByText("21.5").waitFor();
  await output.getByRole("button", { name: "Pin this output" }).waitFor();
  await page.waitForFunction(() => !document.querySelector(".node-view .pin-actions button")?.disabled);
  await output.getByRole("button", { name: "Pin this output" }).click();
  await output.getByText("Pinned", { exact: true }).waitFor();
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText(/Saved as version/).waitFor();
  const saved = await env.json(`/api/v1/flows/${flow.id}`);
  assert.deepEqual(saved.nodes.find((n) => n.id === "transform").ui.pin, { output: { id: 1042, total: 21.5 } });

  // A Slack message after it, its text built by dragging the input's id.
  await palette.getByRole("button", { name: "Slack message", exact: true }).click();
  await connect(page, "transform", "slack_message");
  await page.locator('[data-node="slack_message"]').click();
  const slackView = page.getByRole("region", { name: "Node view slack_message" });
  const slackForm = page.getByRole("complementary", { name: "Node slack_message" });
  await slackForm.getByLabel("Slack credential").selectOption("team-slack");
  const text = slackForm.getByLabel("Text", { exact: true });
  await text.click();
  await page.keyboard.type("New order ");
  await field(slackView.getByRole("region", { name: "Input of slack_message" }), "input.id").dragTo(text);
  assert.match(await text.textContent(), /^New order \{\{ input\.id \}\}/);

  // Test the Slack node alone: the pinned transform does not run again.
  await slackView.getByRole("button", { name: "Test this node" }).click();
  await page.locator('[data-node="slack_message"][data-result="succeeded"]').waitFor();
  assert.deepEqual(slack.messages, [{ text: "New order 1042" }]);
  const runs = await env.json(`/api/v1/runs?flow_id=${flow.id}`);
  const run = await env.json(`/api/v1/runs/${runs.runs[0].id}`);
  const pinnedStep = run.steps.find((s) => s.node_id === "transform");
  assert.equal(pinnedStep.status, "succeeded");
  assert.match(JSON.stringify(pinnedStep.logs), /output pinned in the editor; the node did not run/);
  await page.screenshot({ path: join(shots, "node-view-tested.png") });

  // The run's page shows the transform's output as a table, JSON and a schema.
  await page.goto(`${env.baseURL}/runs/${run.id}`);
  await page.locator('.run-canvas [data-node="transform"]').click();
  const data = page.getByLabel("Output of transform", { exact: true });
  await page.getByRole("tab", { name: "Table" }).first().click();
  await data.getByRole("cell", { name: "1042" }).waitFor();
  await page.getByRole("tab", { name: "JSON" }).first().click();
  await data.getByText("21.5").first().waitFor();
  await page.getByRole("tab", { name: "Schema" }).first().click();
  await data.getByText("number").first().waitFor();
  await page.screenshot({ path: join(shots, "run-output-schema.png") });
});

test("inside a foreach, the node view and previews read the loop's first element as item", async (t) => {
  const flow = await env.createFlow({
    name: "Order lines",
    nodes: [
      { id: "hook", type: "trigger.webhook", ui: { x: 0, y: 0 } },
      { id: "each", type: "foreach", params: { items: "trigger.body.lines" }, ui: { x: 300, y: 0 } },
      { id: "line", type: "transform", params: { fields: { sku: "item.sku", position: "index" } }, ui: { x: 600, y: 0 } },
    ],
    edges: [
      { from: "hook", to: "each" },
      { from: "each", port: "each", to: "line" },
    ],
  });
  const page = await env.login(t);
  await page.goto(`${env.baseURL}/flows/${flow.id}`);
  await page.locator("summary", { hasText: "Test payload" }).click();
  await page.locator("#test-payload").fill('{"lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]}');
  await page.getByRole("button", { name: "Test", exact: true }).click();
  await page.locator('[data-node="line"][data-result="succeeded"]').waitFor();

  await page.locator('[data-node="line"]').click();
  const input = page.getByRole("region", { name: "Input of line" });
  await input.getByText("Element of each").waitFor();
  await field(input, "item.sku").waitFor();
  const form = page.getByRole("complementary", { name: "Node line" });
  const sku = form.getByLabel("Value of sku", { exact: true });
  await page.locator(`[id="${await sku.getAttribute("aria-describedby")}"]`).getByText('"A-1"', { exact: true }).waitFor();
  const position = form.getByLabel("Value of position", { exact: true });
  await page.locator(`[id="${await position.getAttribute("aria-describedby")}"]`).getByText("0", { exact: true }).waitFor();
  await page.screenshot({ path: join(shots, "node-view-loop.png") });
});
