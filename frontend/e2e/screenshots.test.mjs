// The screenshots in frontend/screenshots/, one of each screen at 1440×900,
// with data like a team's: a webhook → transform → Slack flow with a test run
// and real runs, deliveries (one refused), credentials, users and a pending
// invitation, a token. Run by `make screenshots` (SCREENSHOTS=1); skipped
// otherwise, since it rewrites committed files. The harness checks each
// screen as on any screenshot (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:http";
import { useServer } from "./harness.mjs";

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "screenshots");
const skip = process.env.SCREENSHOTS === "1" ? false : "rewrites frontend/screenshots/: run with SCREENSHOTS=1 (make screenshots)";

const env = skip ? null : useServer();
const password = "owner-password-0123";

/** nav is a link of the main navigation. */
const nav = (page, name) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });

/** waitRuns polls a flow's run history until it has count finished runs. */
async function waitRuns(flowId, count) {
  for (let i = 0; i < 100; i++) {
    const { runs } = await env.json(`/api/v1/runs?flow_id=${flowId}`);
    if (runs.length >= count && runs.every((r) => r.status !== "queued" && r.status !== "running")) return runs;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`flow ${flowId} did not finish ${count} runs`);
}

test("a screenshot of each screen", { skip }, async (t) => {
  // Slack's incoming webhook, stood in for by a local server.
  const slack = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end("ok"));
  });
  await new Promise((r) => slack.listen(0, "127.0.0.1", r));
  t.after(() => slack.close());

  // The owner, and an editor invited but not joined yet.
  const invited = await env.json("/api/v1/invitations", { method: "POST", body: JSON.stringify({ email: "ada@example.com", role: "owner" }) });
  const accepted = await fetch(`${env.baseURL}/api/v1/invitation/accept`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: invited.token, name: "Ada Lovelace", password }),
  });
  assert.equal(accepted.status, 201, await accepted.text());
  const pending = await env.json("/api/v1/invitations", { method: "POST", body: JSON.stringify({ email: "grace@example.com", role: "editor" }) });

  await env.json("/api/v1/credentials", {
    method: "POST",
    body: JSON.stringify({ name: "slack-sales", type: "slack", data: { webhook_url: `http://127.0.0.1:${slack.address().port}/services/T0/B0/X` } }),
  });
  await env.json("/api/v1/credentials", { method: "POST", body: JSON.stringify({ name: "orders-api", type: "http_bearer", data: { token: "tok_0123456789" } }) });

  const flow = await env.createFlow({
    name: "Big orders to Slack",
    nodes: [
      { id: "order", type: "trigger.webhook", ui: { x: 0, y: 80 } },
      { id: "summary", type: "transform", params: { fields: { total: "trigger.body.amount * trigger.body.quantity", customer: "trigger.body.customer.name" } }, ui: { x: 280, y: 80 } },
      { id: "notify", type: "slack.message", params: { credential: "slack-sales", text: "New order from {{ steps.summary.customer }}: {{ steps.summary.total }} EUR" }, ui: { x: 560, y: 80 } },
    ],
    edges: [
      { from: "order", to: "summary" },
      { from: "summary", to: "notify" },
    ],
    ui: { notes: [{ id: "note_1", text: "Every order goes to #sales, with its total.", position: { x: 280, y: -90 }, width: 240, height: 80, color: "yellow" }] },
  });
  await env.createFlow({
    name: "Refunds to the ledger",
    nodes: [
      { id: "refund", type: "trigger.webhook", ui: { x: 0, y: 0 } },
      { id: "entry", type: "transform", params: { fields: { amount: "-trigger.body.amount" } }, ui: { x: 280, y: 0 } },
    ],
    edges: [{ from: "refund", to: "entry" }],
  });
  const order = (amount, name) => ({ amount, quantity: 2, customer: { name, email: `${name.toLowerCase()}@example.com` } });
  const active = await env.json(`/api/v1/flows/${flow.id}/activate`, { method: "POST" });
  for (const [amount, name] of [[80, "Noor"], [240, "Kai"], [35, "Ines"]]) {
    const res = await fetch(active.triggers[0].url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(order(amount, name)) });
    assert.equal(res.status, 202);
  }
  assert.equal((await fetch(active.triggers[0].url, { method: "GET" })).status, 405, "a refused delivery");
  const [run] = await waitRuns(flow.id, 3);

  const page = await env.newPage(t);
  await page.setViewportSize({ width: 1440, height: 900 });
  let n = 0;
  const shot = (screen) => page.screenshot({ path: join(out, `${String(++n).padStart(2, "0")}-${screen}.png`) });
  // The canvas refits when the node view opens or closes, with a short
  // animation: wait until every node lies inside it.
  const fitted = () =>
    page.waitForFunction(() => {
      const canvas = document.querySelector(".canvas")?.getBoundingClientRect();
      const nodes = [...document.querySelectorAll(".canvas [data-node]")].map((n) => n.getBoundingClientRect());
      return canvas && nodes.length > 0 && nodes.every((n) => n.left >= canvas.left && n.right <= canvas.right && n.top >= canvas.top && n.bottom <= canvas.bottom);
    });
  mkdirSync(out, { recursive: true });

  await page.goto(env.baseURL + "/");
  await page.getByLabel("Email").fill("ada@example.com");
  await shot("login");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("table", { name: "Flows" }).getByText("Big orders to Slack").waitFor();
  await shot("flows");

  await page.getByRole("link", { name: "Big orders to Slack" }).click();
  await page.locator('[data-node="notify"]').waitFor();
  await page.locator("summary", { hasText: "Test payload" }).click();
  await page.locator("#test-payload").fill(JSON.stringify(order(120, "Lin"), null, 2));
  await page.getByRole("button", { name: "Test", exact: true }).click();
  await page.locator('[data-node="notify"][data-result="succeeded"]').waitFor();
  // Closed again, so that the canvas shows whole.
  await page.locator("summary", { hasText: "Test payload" }).click();
  await shot("editor");
  await page.locator('[data-node="summary"]').click();
  await page.getByLabel("Test output of summary").waitFor();
  await fitted();
  await shot("editor-node-panel");
  await page.locator('[data-node="notify"]').click();
  await page.getByRole("complementary", { name: "Node notify" }).waitFor();
  await fitted();
  await shot("editor-slack-panel");
  await page.locator("summary", { hasText: "Flow settings" }).click();
  await page.getByLabel("Most runs at once").waitFor();
  await shot("editor-settings");

  await nav(page, "Runs").click();
  await page.getByRole("link", { name: `Open run ${run.id}` }).waitFor();
  await shot("runs");
  await page.getByRole("link", { name: `Open run ${run.id}` }).click();
  await page.locator('[data-node="summary"][data-result="succeeded"]').click();
  await page.getByRole("heading", { name: "Steps of summary" }).waitFor();
  await shot("run");

  await nav(page, "Deliveries").click();
  const deliveries = page.getByRole("table", { name: "Deliveries" });
  await deliveries.getByText("method GET is not accepted").waitFor();
  await shot("deliveries");
  await deliveries.getByRole("link", { name: /Open the delivery/ }).last().click();
  await page.getByRole("table", { name: "Headers" }).waitFor();
  await shot("delivery");

  await nav(page, "Credentials").click();
  await page.getByRole("table", { name: "Credentials" }).getByText("slack-sales").waitFor();
  await shot("credentials");

  await nav(page, "Users").click();
  await page.getByRole("table", { name: "Pending invitations" }).getByText("grace@example.com").waitFor();
  await shot("users");

  await nav(page, "Tokens").click();
  const tokenForm = page.getByRole("form", { name: "New token" });
  await tokenForm.getByLabel("Name").fill("ci-deploys");
  await tokenForm.getByLabel("flows:read").check();
  await tokenForm.getByRole("button", { name: "Create token" }).click();
  await page.getByLabel("Token", { exact: true }).waitFor();
  await shot("tokens");

  await nav(page, "Account").click();
  await page.getByRole("table", { name: "Sessions" }).getByText("(this session)").waitFor();
  await shot("account");

  await nav(page, "Audit").click();
  await page.getByRole("table", { name: "Audit log" }).locator('tr[data-action="login"]').first().waitFor();
  await shot("audit");

  // The invitation as the invited see it, logged out.
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByLabel("Email").waitFor();
  await page.goto(`${env.baseURL}/join#${pending.token}`);
  await page.getByText("You are invited as editor (grace@example.com).").waitFor();
  await shot("join");
});
