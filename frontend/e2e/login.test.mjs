// Browser end-to-end tests of logging in, the canvas, a flow built and run
// through the UI, and the credentials page (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServer as createHTTPServer } from "node:http";
import { useServer, shots, token, expectFailure, checkA11y } from "./harness.mjs";

const env = useServer();

test("log in with the admin token, see the flows, log out", async (t) => {
  const res = await fetch(`${env.baseURL}/api/v1/flows`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: "Payments to Slack", nodes: [{ id: "hook", type: "trigger.webhook" }], edges: [] }),
  });
  assert.equal(res.status, 201);

  const page = await env.newPage(t);
  await page.goto(env.baseURL + "/");
  await page.getByLabel("Email").waitFor();
  await page.screenshot({ path: join(shots, "login.png") });

  await page.getByRole("button", { name: "Use an API token" }).click();
  expectFailure(page, /\/api\/v1\/session$/, 401);
  await page.getByLabel("Login token").fill("hf_wrong");
  await page.getByRole("button", { name: "Log in" }).click();
  assert.match(await page.getByRole("alert").textContent(), /^invalid token/);

  await page.getByLabel("Login token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("table", { name: "Flows" }).getByText("Payments to Slack").waitFor();
  await page.screenshot({ path: join(shots, "flows.png") });

  const cookies = await env.browser.cookies(env.baseURL);
  const session = cookies.find((c) => c.name === "hookflow_session");
  assert.ok(session, "the session cookie is set");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.equal(await page.evaluate(() => document.cookie), "", "scripts in the page cannot read it");

  // A reload stays logged in.
  await page.reload();
  await page.getByRole("table", { name: "Flows" }).waitFor();

  // Create a flow and activate it from the list; the server agrees.
  await page.getByRole("textbox", { name: "New flow" }).fill("Orders to Postgres");
  await page.getByRole("button", { name: "Create" }).click();
  // A new flow opens on its canvas; back to the list.
  await page.locator('[data-node="webhook"]').waitFor();
  await page.getByRole("button", { name: "← Flows" }).click();
  const toggle = page.getByRole("switch", { name: "Active: Orders to Postgres" });
  await toggle.waitFor();
  await toggle.click(); // Checked once the server has it: the switch shows what is stored.
  await page.waitForFunction(() => document.querySelector('[aria-label="Active: Orders to Postgres"]')?.checked === true);
  const list = await (await env.api(`/api/v1/flows`)).json();
  assert.equal(list.flows.find((f) => f.name === "Orders to Postgres")?.active, true, "activated through the UI");
  await page.screenshot({ path: join(shots, "flows-active.png") });

  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByLabel("Email").waitFor();
  await page.reload();
  await page.getByLabel("Email").waitFor();
});

test("open a flow on the canvas, add a node, and see a validation problem on its field", async (t) => {
  const page = await env.newPage(t);
  await page.goto(env.baseURL + "/");
  await page.getByRole("button", { name: "Use an API token" }).click();
  await page.getByLabel("Login token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("link", { name: "Payments to Slack" }).click();
  await page.locator('[data-node="hook"]').waitFor();

  // An if without its condition: the server refuses it on that field.
  expectFailure(page, /\/api\/v1\/flows\/[\w-]+$/, 422);
  await page.getByRole("complementary", { name: "Node palette" }).getByRole("button", { name: "If", exact: true }).click();
  await page.locator('[data-node="if"]').waitFor();
  await page.getByText("Unsaved changes").waitFor();
  await page.getByRole("button", { name: "Undo" }).click();
  await page.locator('[data-node="if"]').waitFor({ state: "detached" });
  await page.getByRole("button", { name: "Redo" }).click();
  await page.locator('[data-node="if"]').waitFor();
  await page.getByRole("button", { name: "Tidy up" }).click();
  await page.getByRole("button", { name: "Save" }).click();
  const problem = page.locator('[data-node="if"] .problem');
  await problem.waitFor();
  assert.match(await problem.textContent(), /params.*condition/);
  assert.match(await page.getByRole("status").textContent(), /invalid/);
  await page.screenshot({ path: join(shots, "canvas-problem.png") });

  // The panel shows the problem on the field; filling it in saves a new version.
  const panel = page.getByRole("complementary", { name: "Node if" });
  await panel.getByRole("alert").first().waitFor();
  await panel.getByLabel("Condition").fill("trigger.body.amount > 100");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("status").getByText("Saved as version 2.").waitFor();
  // The problem leaves the node once the canvas has redrawn it.
  await page.locator('[data-node="if"] .problem').waitFor({ state: "detached" });
  const list = await (await env.api(`/api/v1/flows`)).json();
  const saved = list.flows.find((f) => f.name === "Payments to Slack");
  const doc = await (await env.api(`/api/v1/flows/${saved.id}`)).json();
  assert.equal(doc.version, 2);
  assert.deepEqual(doc.nodes.find((n) => n.id === "if").params, { condition: "trigger.body.amount > 100" });

  // Deleting the node and saving makes version 3.
  await page.locator('[data-node="if"]').click();
  await page.keyboard.press("Delete");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("status").getByText("Saved as version 3.").waitFor();
  await page.getByText("Unsaved changes").waitFor({ state: "detached" }); // Saved: nothing left unsaved.

  // Restoring version 2 brings the if back, as version 4.
  await page.locator("summary", { hasText: "Versions" }).click();
  await checkA11y(page, "editor with its versions");
  await page.getByRole("button", { name: "Restore v2" }).click();
  await page.locator('[data-node="if"]').waitFor();
  await page.getByRole("heading", { name: "Payments to Slack v4" }).waitFor();

  // Nodes can also be dragged from the palette onto the canvas.
  await page
    .getByRole("complementary", { name: "Node palette" })
    .getByRole("button", { name: "Filter", exact: true })
    .dragTo(page.locator(".react-flow__pane"), { targetPosition: { x: 120, y: 120 } });
  await page.locator('[data-node="filter"]').waitFor();
  await page.screenshot({ path: join(shots, "canvas.png") });
});

test("build webhook → transform → http.request on the canvas, activate, deliver, and read the run", async (t) => {
  // The API the flow calls: it answers with what it was sent.
  const received = [];
  const auths = [];
  const api = createHTTPServer((req, res) => {
    auths.push(req.headers.authorization);
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push(JSON.parse(body || "null"));
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ ok: true, echoed: JSON.parse(body || "null") }));
    });
  });
  await new Promise((r) => api.listen(0, "127.0.0.1", r));
  t.after(() => api.close());
  const apiURL = `http://127.0.0.1:${api.address().port}/orders`;

  const page = await env.newPage(t);
  await page.goto(env.baseURL + "/");
  await page.getByRole("button", { name: "Use an API token" }).click();
  await page.getByLabel("Login token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("textbox", { name: "New flow" }).fill("Order pipeline");
  await page.getByRole("button", { name: "Create" }).click();
  await page.locator('[data-node="webhook"]').waitFor();
  const palette = page.getByRole("complementary", { name: "Node palette" });

  await palette.getByRole("button", { name: "Transform", exact: true }).click();
  const transform = page.getByRole("complementary", { name: "Node transform" });
  await transform.getByRole("button", { name: "Add" }).click();
  await transform.getByLabel("Name", { exact: true }).fill("total");
  await transform.getByLabel("Value of total").fill("trigger.body.amount * 2");

  await palette.getByRole("button", { name: "HTTP request", exact: true }).click();
  const call = page.getByRole("complementary", { name: "Node http_request" });
  await call.locator("#field-params-method").selectOption("POST");
  await call.locator("#field-params-url").fill(apiURL);
  await call.locator("#field-params-body").fill('{"total": "{{ steps.transform.total }}"}');
  // A credential made inline, from the node's picker.
  await call.getByRole("button", { name: "New credential" }).click();
  const inline = call.getByRole("form", { name: "New credential" });
  await checkA11y(page, "node panel with a new credential");
  await inline.getByLabel("Name", { exact: true }).fill("pipeline-token");
  await inline.getByLabel("Type").selectOption("http_bearer");
  await inline.getByLabel("Token").fill("tok_pipeline_0123456789");
  await inline.getByRole("button", { name: "Store credential" }).click();
  await page.waitForFunction(() => document.querySelector("#field-params-credential")?.value === "pipeline-token");

  // Connect by dragging from a node's output handle to the next one's input.
  // The canvas may still be gliding to fit a new node, so a drag that
  // missed is made again.
  const handle = (node, kind) => page.locator(`[data-node="${node}"] .react-flow__handle.${kind}`);
  async function connect(from, to) {
    const edge = page.locator(`.react-flow__edge[data-id="${from}:->${to}"]`);
    for (let i = 0; i < 5 && (await edge.count()) === 0; i++) {
      await handle(from, "source").dragTo(handle(to, "target"));
      await edge.waitFor({ state: "attached", timeout: 1000 }).catch(() => {});
    }
    assert.equal(await edge.count(), 1, `${from} is connected to ${to}`);
  }
  await connect("webhook", "transform");
  await connect("transform", "http_request");
  await page.screenshot({ path: join(shots, "canvas-built.png") });
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("status").getByText("Saved as version 2.").waitFor();

  // Listen for a test event while the flow is inactive: the request is
  // captured, shown, and becomes the test payload.
  const flowsNow = await (await env.api(`/api/v1/flows`)).json();
  const hookURL = flowsNow.flows.find((f) => f.name === "Order pipeline").triggers[0].url;
  await page.locator('[data-node="webhook"]').click();
  await page.getByRole("button", { name: "Listen for test event" }).click();
  await page.getByRole("button", { name: /Listening/ }).waitFor();
  // The listen call may reach the server a moment after the click.
  let captured = 0;
  for (let i = 0; i < 50 && captured !== 200; i++) {
    captured = (await fetch(hookURL, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"amount": 7}' })).status;
    if (captured !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(captured, 200, "an inactive flow's trigger captures the request for the listener");
  await page.getByLabel("Captured body").getByText('{"amount": 7}').waitFor();
  assert.deepEqual(JSON.parse(await page.locator("#test-payload").textContent()), { amount: 7 });
  await page.screenshot({ path: join(shots, "listen.png") });

  // A test run with a payload: the result is drawn on the canvas, and the
  // node's panel shows its output.
  await page.locator("summary", { hasText: "Test payload" }).click();
  await page.locator("#test-payload").fill('{"amount": 5}');
  await page.getByRole("button", { name: "Test", exact: true }).click();
  await page.locator('[data-node="http_request"][data-result="succeeded"]').waitFor();
  await page.locator('[data-node="transform"]').click();
  assert.deepEqual(JSON.parse(await page.getByLabel("Test output of transform").textContent()), { total: 10 });
  // Expression fields now complete the paths of the test run's data; the
  // field is put back as it was, so the flow stays saved.
  const value = page.getByRole("complementary", { name: "Node transform" }).getByLabel("Value of total", { exact: true });
  const list = page.locator(".cm-tooltip-autocomplete");
  for (const [typed, path] of [["trigger.body.am", "trigger.body.amount"], ["steps.tr", "steps.transform.total"]]) {
    await value.click();
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.type(typed);
    await list.getByText(path, { exact: true }).waitFor();
    await page.keyboard.press("Escape");
  }
  await value.fill("trigger.body.amount * 2");
  await page.getByText("Unsaved changes").waitFor({ state: "detached" });
  await page.screenshot({ path: join(shots, "canvas-test.png") });

  await page.getByRole("button", { name: "← Flows" }).click();
  await page.getByRole("switch", { name: "Active: Order pipeline" }).click();
  await page.waitForFunction(() => document.querySelector('[aria-label="Active: Order pipeline"]')?.checked === true);

  // A real HTTP request to the trigger URL.
  const flows = await (await env.api(`/api/v1/flows`)).json();
  const hook = flows.flows.find((f) => f.name === "Order pipeline").triggers[0].url;
  const delivered = await fetch(hook, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ amount: 21 }) });
  assert.equal(delivered.status, 202);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs" }).click();
  const runs = page.getByRole("table", { name: "Runs" });
  const delivery = runs.locator('tr:has-text("Order pipeline"):has([data-trigger="webhook"])');
  await delivery.locator('[data-status="succeeded"]').waitFor({ timeout: 15_000 });
  await page.screenshot({ path: join(shots, "runs.png") });
  await delivery.getByRole("link", { name: /Open run/ }).click();
  // The run shows the version it ran on a canvas, each node with its status.
  await page.locator('[aria-label="Flow version 2 as it ran"] [data-node="transform"][data-result="succeeded"]').waitFor();
  const output = page.getByLabel("Output of transform");
  await output.waitFor();
  assert.deepEqual(JSON.parse(await output.textContent()), { total: 42 });
  assert.deepEqual(received, [{ total: 10 }, { total: 42 }], "the API got the transform's value, in the test and in the real run");
  assert.deepEqual(auths, ["Bearer tok_pipeline_0123456789", "Bearer tok_pipeline_0123456789"], "with the inline credential");
  await page.screenshot({ path: join(shots, "run.png") });

  // A refused request is in the deliveries, with its reason.
  assert.equal((await fetch(hook, { method: "GET" })).status, 405);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Deliveries" }).click();
  const rejected = page.getByRole("table", { name: "Deliveries" }).locator(`tr:has(span:text-is("rejected"))`);
  await rejected.getByText("method GET is not accepted").waitFor();
  assert.equal(await page.getByRole("table", { name: "Deliveries" }).locator(`tr:has(span:text-is("accepted"))`).count(), 1);
  await page.screenshot({ path: join(shots, "deliveries.png") });
});

test("store credentials through the credentials page; their data never comes back", async (t) => {
  const page = await env.newPage(t);
  await page.goto(env.baseURL + "/");
  await page.getByRole("button", { name: "Use an API token" }).click();
  await page.getByLabel("Login token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Credentials" }).click();
  const form = page.getByRole("form", { name: "New credential" });

  // A Slack credential needs a webhook URL or a token: the problem shows under the field.
  expectFailure(page, /\/api\/v1\/credentials$/, 422);
  await form.getByLabel("Name", { exact: true }).fill("slack-sales");
  await form.getByLabel("Type").selectOption("slack");
  await form.getByRole("button", { name: "Store credential" }).click();
  await form.locator(".problem").first().waitFor();
  assert.match(await form.locator(".problem").first().textContent(), /webhook URL or a bot token/);

  const secret = "tok_e2e_write_only_9f8e7d";
  await form.getByLabel("Name", { exact: true }).fill("orders-api");
  await form.getByLabel("Type").selectOption("http_bearer");
  await form.getByLabel("Token").fill(secret);
  await form.getByRole("button", { name: "Store credential" }).click();
  await page.getByRole("table", { name: "Credentials" }).getByText("orders-api").waitFor();
  await page.screenshot({ path: join(shots, "credentials.png") });
  await page.reload();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Credentials" }).click();
  await page.getByRole("table", { name: "Credentials" }).getByText("orders-api").waitFor();
  assert.ok(!(await page.content()).includes(secret), "the page never shows the secret again");
});
