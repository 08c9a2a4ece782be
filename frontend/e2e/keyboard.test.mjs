// Browser tests of building a flow from the keyboard alone, of a run's
// steps narrowed to the node chosen on its canvas, of the run history's time
// filter, of editing a credential, and of which pages load the canvas code
// (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServer as createHTTPServer } from "node:http";
import { useServer, shots, token, expectFailure } from "./harness.mjs";

const env = useServer();

const { json, createFlow } = env;

/** focused describes the element with the focus: what a keyboard user is on. */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const label = el.getAttribute("aria-label") ?? el.labels?.[0]?.textContent ?? "";
    return {
      tag: el.tagName.toLowerCase(),
      node: el.classList.contains("react-flow__node") ? el.getAttribute("data-id") : null,
      label: label.trim(),
      text: (el.textContent ?? "").trim().slice(0, 60),
      within: el.parentElement?.closest("[aria-label]")?.getAttribute("aria-label") ?? "",
    };
  });
}

/** tabTo presses Tab (or Shift+Tab) until the focus is on what match accepts. */
async function tabTo(page, match, { back = false, max = 200 } = {}) {
  for (let i = 0; i < max; i++) {
    const f = await focused(page);
    if (match(f)) return f;
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
  }
  throw new Error(`the focus never got there; it is on ${JSON.stringify(await focused(page))}`);
}

const button = (text) => (f) => f.tag === "button" && f.text === text;
const canvasNode = (id) => (f) => f.node === id;

/** chooseByKeyboard moves a focused select's choice with the arrow key until it is value. */
async function chooseByKeyboard(page, value) {
  for (let i = 0; i < 10; i++) {
    if ((await page.evaluate(() => document.activeElement.value)) === value) return;
    await page.keyboard.press("ArrowDown");
  }
  assert.fail(`the select never offered ${value}`);
}

/** waitFocusWithin waits until the focus is inside the element the selector finds. */
const waitFocusWithin = (page, selector) => page.waitForFunction((s) => document.activeElement?.closest(s) != null, selector);

test("build webhook → transform → if with the keyboard alone, connect through the panel, save", async (t) => {
  const flow = await createFlow({ name: "Keyboard build", nodes: [{ id: "webhook", type: "trigger.webhook", ui: { x: 0, y: 0 } }], edges: [] });
  const page = await env.login(t);

  // Open the flow from the list.
  await tabTo(page, (f) => f.tag === "a" && f.text === "Keyboard build");
  await page.keyboard.press("Enter");
  await page.locator('[data-node="webhook"]').waitFor();

  // A palette button adds its node, selects it, and takes the keyboard to its panel.
  await tabTo(page, (f) => button("Transform")(f) && f.within === "Node palette");
  await page.keyboard.press("Enter");
  await waitFocusWithin(page, 'aside[aria-label="Node transform"]');
  // Its first control is the Add button of the fields to set.
  await tabTo(page, button("Add"), { max: 5 });
  await page.keyboard.press("Enter");
  await tabTo(page, (f) => f.label === "Name", { back: true });
  await page.keyboard.type("total");
  await page.keyboard.press("Tab");
  assert.equal((await focused(page)).label, "Value of total");
  await page.keyboard.type("trigger.body.amount * 2");

  await tabTo(page, (f) => button("If")(f) && f.within === "Node palette", { back: true });
  await page.keyboard.press("Enter");
  await waitFocusWithin(page, 'aside[aria-label="Node if"]');
  await page.keyboard.type("steps.transform.total > 10");

  // Select the webhook on the canvas (Tab to it, Enter) and connect it from its panel.
  await tabTo(page, canvasNode("webhook"), { back: true });
  await page.keyboard.press("Enter");
  await page.getByRole("complementary", { name: "Node webhook" }).waitFor();
  // Enter again takes the keyboard into the node's panel, past the canvas.
  await page.keyboard.press("Enter");
  await waitFocusWithin(page, 'aside[aria-label="Node webhook"]');
  assert.equal(await page.locator('.react-flow__node[data-id="webhook"].selected').count(), 1, "the node stays selected");
  await tabTo(page, (f) => f.label === "Connect to node");
  await chooseByKeyboard(page, "transform");
  await page.keyboard.press("Tab");
  assert.equal((await focused(page)).text, "Connect");
  await page.keyboard.press("Enter");
  await page.locator('.react-flow__edge[data-id="webhook:->transform"]').waitFor({ state: "attached" });

  // The transform: selected by keyboard, moved with the arrow keys, connected to the if.
  await tabTo(page, canvasNode("transform"), { back: true });
  await page.keyboard.press("Enter");
  const connections = page.getByRole("region", { name: "Connections" });
  await connections.getByRole("button", { name: "Remove the connection from webhook to transform" }).waitFor();
  const before = await page.locator('.react-flow__node[data-id="transform"]').getAttribute("style");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Shift+ArrowDown");
  assert.notEqual(await page.locator('.react-flow__node[data-id="transform"]').getAttribute("style"), before, "arrow keys move the selected node");
  await page.screenshot({ path: join(shots, "keyboard-canvas.png") });
  await tabTo(page, (f) => f.label === "Connect to node");
  await chooseByKeyboard(page, "if");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.locator('.react-flow__edge[data-id="transform:->if"]').waitFor({ state: "attached" });
  await connections.getByRole("button", { name: "Remove the connection from transform to if" }).waitFor();
  await connections.screenshot({ path: join(shots, "keyboard-connections.png") });
  // Delete pressed on a control of the panel removes nothing from the canvas.
  await tabTo(page, (f) => f.label === "Remove the connection from transform to if", { back: true });
  await page.keyboard.press("Delete");
  await page.keyboard.press("Backspace");
  assert.equal(await page.locator('.react-flow__node[data-id="transform"]').count(), 1, "the selected node stays");
  assert.equal(await page.locator('.react-flow__edge[data-id="transform:->if"]').count(), 1, "and its connection");

  // Save: Shift+Tab back to the Save button, and press it.
  await tabTo(page, button("Save"), { back: true });
  await page.keyboard.press("Enter");
  await page.getByRole("status").getByText("Saved as version 2.").waitFor();

  const saved = await json(`/api/v1/flows/${flow.id}`);
  assert.deepEqual(
    saved.edges.map((e) => `${e.from}:${e.port ?? ""}->${e.to}`).sort(),
    ["transform:->if", "webhook:->transform"],
    "both edges were saved",
  );
  const byId = Object.fromEntries(saved.nodes.map((n) => [n.id, n]));
  assert.deepEqual(byId.transform.params, { fields: { total: "trigger.body.amount * 2" } });
  assert.deepEqual(byId.if.params, { condition: "steps.transform.total > 10" });
  assert.ok(byId.transform.ui.y > 0, "the move by arrow keys was saved");
});

/** waitRuns polls the run history of a flow until it has count finished runs. */
async function waitRuns(flowId, count) {
  for (let i = 0; i < 100; i++) {
    const { runs } = await json(`/api/v1/runs?flow_id=${flowId}`);
    if (runs.length >= count && runs.every((r) => r.status !== "queued" && r.status !== "running")) return runs;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`flow ${flowId} did not finish ${count} runs`);
}

test("choosing a node on a run's canvas shows only that node's steps", async (t) => {
  const flow = await createFlow({
    name: "Run canvas steps",
    nodes: [
      { id: "hook", type: "trigger.webhook", ui: { x: 0, y: 0 } },
      { id: "amount", type: "transform", params: { fields: { total: "trigger.body.amount * 2" } }, ui: { x: 260, y: 0 } },
      { id: "big", type: "if", params: { condition: "steps.amount.total > 10" }, ui: { x: 520, y: 0 } },
      { id: "notify", type: "transform", params: { fields: { said: "'big: ' + string(steps.amount.total)" } }, ui: { x: 780, y: 0 } },
    ],
    edges: [
      { from: "hook", to: "amount" },
      { from: "amount", to: "big" },
      { from: "big", port: "true", to: "notify" },
    ],
  });
  const active = await json(`/api/v1/flows/${flow.id}/activate`, { method: "POST" });
  const delivered = await fetch(active.triggers[0].url, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"amount": 21}' });
  assert.equal(delivered.status, 202);
  const [run] = await waitRuns(flow.id, 1);
  assert.equal(run.status, "succeeded");

  const page = await env.login(t);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs" }).click();
  await page.getByRole("link", { name: `Open run ${run.id}` }).click();
  const canvas = page.locator('[aria-label="Flow version 1 as it ran"]');
  await canvas.locator('[data-node="amount"][data-result="succeeded"]').waitFor();
  const steps = page.locator("li.step");
  assert.deepEqual(await steps.evaluateAll((ls) => ls.map((l) => l.dataset.step)), ["hook", "amount", "big", "notify"]);

  // A click on a node narrows the steps to its own, and marks the node.
  await canvas.locator('[data-node="amount"]').click();
  await page.getByRole("heading", { name: "Steps of amount" }).waitFor();
  assert.deepEqual(await page.locator('ol[aria-label="Steps of amount"] li.step').evaluateAll((ls) => ls.map((l) => l.dataset.step)), ["amount"]);
  assert.deepEqual(JSON.parse(await page.getByLabel("Output of amount").textContent()), { total: 42 });
  assert.match(await canvas.locator('[data-node="amount"]').getAttribute("class"), /\bselected\b/);
  await page.screenshot({ path: join(shots, "run-node-steps.png") });

  await page.getByRole("button", { name: "Show all steps" }).click();
  await page.getByRole("heading", { name: "Steps", exact: true }).waitFor();
  assert.equal(await steps.count(), 4);

  // From the keyboard: focus a node, Enter chooses it, Escape shows all again.
  await canvas.locator('.react-flow__node[data-id="big"]').focus();
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Steps of big" }).waitFor();
  assert.deepEqual(await steps.evaluateAll((ls) => ls.map((l) => l.dataset.step)), ["big"]);
  await page.keyboard.press("Escape");
  await page.getByRole("heading", { name: "Steps", exact: true }).waitFor();
  assert.equal(await steps.count(), 4);
});

/** localTime gives a time as a datetime-local input holds it, in the browser's zone. */
function localTime(page, ms) {
  return page.evaluate((ms) => {
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, "0");
    const minutes = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    // The input drops zero seconds from its value.
    return d.getSeconds() ? `${minutes}:${p(d.getSeconds())}` : minutes;
  }, ms);
}

test("the runs' From and To times hide the runs outside them", async (t) => {
  const flow = await createFlow({
    name: "Time filter",
    nodes: [
      { id: "hook", type: "trigger.webhook", ui: { x: 0, y: 0 } },
      { id: "echo", type: "transform", params: { fields: { got: "trigger.body" } }, ui: { x: 260, y: 0 } },
    ],
    edges: [{ from: "hook", to: "echo" }],
  });
  const first = await json(`/api/v1/flows/${flow.id}/test`, { method: "POST", body: '{"payload": {}}' });
  // The filter takes whole seconds: the second run starts in a later one.
  const between = Math.floor(Date.parse(first.created_at) / 1000) * 1000 + 1000;
  while (Date.now() < between + 150) await new Promise((r) => setTimeout(r, 50));
  const second = await json(`/api/v1/flows/${flow.id}/test`, { method: "POST", body: '{"payload": {}}' });
  assert.ok(Date.parse(second.created_at) >= between, "the runs are a second boundary apart");

  const page = await env.login(t);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs" }).click();
  const filter = page.getByRole("form", { name: "Filter runs" });
  await filter.getByLabel("Flow").selectOption({ label: "Time filter" });
  const row = (run) => page.getByRole("link", { name: `Open run ${run.id}` });
  await row(first).waitFor();
  await row(second).waitFor();

  const boundary = await localTime(page, between);
  await filter.getByLabel("From").fill(boundary);
  await row(first).waitFor({ state: "detached" });
  await row(second).waitFor();

  await filter.getByLabel("From").fill("");
  await filter.getByLabel("To").fill(boundary);
  await row(second).waitFor({ state: "detached" });
  await row(first).waitFor();
  await page.screenshot({ path: join(shots, "runs-time-filter.png") });
});

test("an edited credential's new token is what the flow sends", async (t) => {
  const auths = [];
  const api = createHTTPServer((req, res) => {
    auths.push(req.headers.authorization);
    res.setHeader("Content-Type", "application/json");
    res.end('{"ok": true}');
  });
  await new Promise((r) => api.listen(0, "127.0.0.1", r));
  t.after(() => api.close());

  await json("/api/v1/credentials", { method: "POST", body: JSON.stringify({ name: "rotating-token", type: "http_bearer", data: { token: "tok_old_0123456789" } }) });
  const flow = await createFlow({
    name: "Rotating token",
    nodes: [
      { id: "hook", type: "trigger.webhook", ui: { x: 0, y: 0 } },
      { id: "call", type: "http.request", params: { url: `http://127.0.0.1:${api.address().port}/ping`, credential: "rotating-token" }, ui: { x: 260, y: 0 } },
    ],
    edges: [{ from: "hook", to: "call" }],
  });
  const testRun = () => json(`/api/v1/flows/${flow.id}/test`, { method: "POST", body: '{"payload": {}}' });
  assert.equal((await testRun()).status, "succeeded");

  const page = await env.login(t);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Credentials" }).click();
  await page.getByRole("button", { name: "Edit rotating-token" }).click();
  const form = page.getByRole("form", { name: "Edit credential rotating-token" });
  await form.getByText("credential data is write-only").waitFor();
  assert.equal(await form.getByLabel("Type").inputValue(), "http_bearer", "the type is the credential's");
  const tokenField = form.getByLabel("Token");
  assert.equal(await tokenField.getAttribute("type"), "password");
  assert.equal(await tokenField.inputValue(), "", "the current token is not shown");

  // Saved empty: the server's problem shows under the field.
  expectFailure(page, /\/api\/v1\/credentials\/rotating-token$/, 422);
  await form.getByRole("button", { name: "Save credential" }).click();
  await form.locator(".field .problem").getByText("is required").waitFor();

  const secret = "tok_new_9876543210";
  await tokenField.fill(secret);
  await page.screenshot({ path: join(shots, "credential-edit.png") });
  await form.getByRole("button", { name: "Save credential" }).click();
  await page.getByText('Credential "rotating-token" updated.').waitFor();
  await form.waitFor({ state: "detached" });
  assert.ok(!(await page.content()).includes(secret), "the new token is not on the page");

  assert.equal((await testRun()).status, "succeeded");
  assert.deepEqual(auths, ["Bearer tok_old_0123456789", `Bearer ${secret}`], "the run after the edit sends the new token");
});

test("the login screen and the flows list load without the canvas; the run pages without the editor", async (t) => {
  const page = await env.newPage(t);
  const scripts = [];
  page.on("request", (r) => {
    if (r.resourceType() === "script") scripts.push(new URL(r.url()).pathname);
  });
  await page.goto(env.baseURL + "/");
  await page.getByRole("button", { name: "Use an API token" }).click();
  await page.getByLabel("Login token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Flows" }).first().waitFor();
  assert.equal(scripts.length, 1, `one script for the shell: ${scripts}`);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs" }).click();
  await page.getByRole("form", { name: "Filter runs" }).waitFor();
  const loaded = scripts.slice(1).join(" ");
  assert.match(loaded, /RunsPage-/, "the run pages came when opened");
  assert.doesNotMatch(loaded, /FlowEditor-/, "without the editor's fields");
});
