// Browser test of composition: a flow built in the editor calls a sub-flow
// and waits for a callback; its resume URL is requested as a person clicking
// a link would, and run history shows both runs, linked (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { useServer, shots } from "./harness.mjs";

const env = useServer();

const { json, createFlow } = env;

/** connect connects the node chosen on the canvas to another, from its panel. */
async function connect(page, from, to, port) {
  await page.locator(`.react-flow__node[data-id="${from}"]`).click();
  const form = page.getByRole("form", { name: `Connect ${from}` });
  if (port) await form.getByLabel("Connect port").selectOption(port);
  await form.getByLabel("Connect to node").selectOption(to);
  await form.getByRole("button", { name: "Connect" }).click();
  await page.locator(`.react-flow__edge[data-id="${from}:${port ?? ""}->${to}"]`).waitFor({ state: "attached" });
}

test("a flow calls a sub-flow and waits for a callback; both runs are linked in run history", async (t) => {
  await createFlow({
    name: "Notify on-call",
    nodes: [
      { id: "called", type: "trigger.call", params: { fields: [{ name: "who", type: "string", required: true }] } },
      { id: "give", type: "flow.return", params: { value: '{"notified": trigger.input.who}' } },
    ],
    edges: [{ from: "called", to: "give" }],
  });
  const flow = await createFlow({
    name: "Approve and notify",
    nodes: [
      { id: "start", type: "trigger.manual", ui: { x: 0, y: 0 } },
      { id: "ask", type: "transform", params: { fields: { link: "run.resume_urls.wait_callback + '?choice=yes'" } }, ui: { x: 260, y: 0 } },
    ],
    edges: [{ from: "start", to: "ask" }],
  });

  const page = await env.login(t);
  await page.getByRole("link", { name: "Approve and notify" }).click();
  await page.locator('[data-node="ask"]').waitFor();
  const palette = page.getByRole("complementary", { name: "Node palette" });

  // The call: the sub-flow picked by name, its input from an expression.
  await palette.getByRole("button", { name: "Call a flow" }).click();
  const call = page.getByRole("complementary", { name: "Node flow_call" });
  await call.locator("#field-params-flow").selectOption({ label: "Notify on-call" });
  await call.getByRole("button", { name: "Add" }).first().click();
  await call.getByLabel("Name").fill("who");
  await call.getByLabel("Value of who").click();
  await page.keyboard.type("'ada'");

  await palette.getByRole("button", { name: "Wait for a callback" }).click();
  await page.getByRole("complementary", { name: "Node wait_callback" }).waitFor();
  // Expressions are offered the wait's resume URL, to send it.
  await page.locator('.react-flow__node[data-id="ask"]').click();
  const ask = page.getByRole("complementary", { name: "Node ask" });
  await ask.getByRole("button", { name: "Add" }).first().click();
  await ask.getByLabel("Name", { exact: true }).nth(1).fill("note");
  await ask.getByLabel("Value of note", { exact: true }).click();
  await page.keyboard.type("run.res");
  await page.locator(".cm-tooltip-autocomplete .cm-completionLabel", { hasText: "run.resume_urls.wait_callback" }).waitFor();
  await new Promise((r) => setTimeout(r, 150)); // CodeMirror ignores Enter just after the list changes
  await page.keyboard.press("Enter");
  await page.locator(".cm-tooltip-autocomplete").waitFor({ state: "detached" });
  assert.equal(await ask.getByLabel("Value of note", { exact: true }).textContent(), "run.resume_urls.wait_callback");
  await connect(page, "ask", "flow_call");
  await connect(page, "flow_call", "wait_callback");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText("Saved as version 2.").waitFor();

  // The test run waits for the callback, and is answered while it waits.
  await page.getByRole("button", { name: "Test", exact: true }).click();
  await page.getByText("Test run waits (for a callback, or a delay)").waitFor();
  await page.screenshot({ path: join(shots, "composition-waiting.png") });
  const { runs } = await json(`/api/v1/runs?flow_id=${flow.id}`);
  const waiting = await json(`/api/v1/runs/${runs[0].id}`);
  const stepOf = (run, node) => run.steps.find((s) => s.node_id === node);
  assert.equal(stepOf(waiting, "wait_callback").status, "running");
  assert.deepEqual(stepOf(waiting, "flow_call").output, { notified: "ada" }, "the call had its result before the wait");

  // Someone clicks the link: the run goes on and finishes.
  const link = stepOf(waiting, "ask").output.link;
  const clicked = await env.browser.newPage();
  const answer = await clicked.goto(link);
  assert.equal(answer.status(), 200);
  assert.deepEqual(JSON.parse(await clicked.locator("body").textContent()), { run_id: waiting.id, status: "resumed" });
  assert.equal((await clicked.goto(link)).status(), 404, "the link works once");
  await clicked.close();

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs" }).click();
  await page.getByRole("link", { name: `Open run ${waiting.id}` }).click();
  await page.locator(`[data-status="succeeded"]`).first().waitFor();
  await page.getByLabel("Output of wait_callback").getByText('"choice": "yes"').waitFor();
  await page.screenshot({ path: join(shots, "composition-run.png") });

  // The call step links to the run it started, which links back.
  const child = stepOf(waiting, "flow_call").child_run_id;
  await page.locator('li.step[data-step="flow_call"]').getByRole("link", { name: child.slice(-12) }).click();
  await page.waitForURL(`**/runs/${child}`);
  await page.locator("p.help", { hasText: "called by" }).waitFor();
  await page.getByLabel("Output of give").getByText('"notified": "ada"').waitFor();
  await page.getByRole("link", { name: waiting.id.slice(-12) }).click();
  await page.waitForURL(`**/runs/${waiting.id}`);
});
