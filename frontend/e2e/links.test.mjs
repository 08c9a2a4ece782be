// Browser tests of the editor's addresses: every page, and what is chosen
// on it, has a URL that a reload, Back and a link come back to; a delivery
// opens on its own page (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { useServer, shots } from "./harness.mjs";

const env = useServer();

/** flowWithRun saves and activates a webhook → transform flow, posts to it,
 * and answers the flow and the finished run. */
async function flowWithRun(name, headers = {}) {
  const created = await env.api("/api/v1/flows", {
    method: "POST",
    body: JSON.stringify({
      name,
      nodes: [
        { id: "hook", type: "trigger.webhook" },
        { id: "double", type: "transform", params: { fields: { n: "trigger.body.n * 2" } } },
      ],
      edges: [{ from: "hook", to: "double" }],
    }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  const flow = await created.json();
  assert.equal((await env.api(`/api/v1/flows/${flow.id}/activate`, { method: "POST" })).status, 200);
  const posted = await fetch(flow.triggers[0].url + "/orders?src=shop", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify({ n: 21 }),
  });
  assert.equal(posted.status, 202);
  const { run_id } = await posted.json();
  for (let i = 0; i < 100; i++) {
    const run = await (await env.api(`/api/v1/runs/${run_id}`)).json();
    if (run.status === "succeeded") return { flow, run };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the run did not finish");
}

test("a run's page, and the node chosen on it, come back on reload, by link and with Back", async (t) => {
  const { run } = await flowWithRun("Linked orders");
  const page = await env.login(t);

  // Straight to the run's address.
  await page.goto(`${env.baseURL}/runs/${run.id}`);
  await page.locator('[data-node="double"][data-result="succeeded"]').waitFor();
  await page.locator('[data-node="double"]').click();
  await page.getByRole("heading", { name: "Steps of double" }).waitFor();
  assert.match(page.url(), new RegExp(`/runs/${run.id}\\?node=double$`));

  await page.reload();
  await page.getByRole("heading", { name: "Steps of double" }).waitFor();
  assert.deepEqual(JSON.parse(await page.getByLabel("Output of double").textContent()), { n: 42 });
  await page.screenshot({ path: join(shots, "run-deep-link.png") });

  // The runs list keeps its filters in its address; Back returns to it.
  await page.goto(`${env.baseURL}/runs?status=succeeded`);
  assert.equal(await page.locator("#runs-status").inputValue(), "succeeded");
  await page.getByRole("link", { name: `Open run ${run.id}` }).click();
  await page.locator('[data-node="double"]').waitFor();
  assert.equal(new URL(page.url()).pathname, `/runs/${run.id}`);
  await page.goBack();
  await page.getByRole("table", { name: "Runs" }).waitFor();
  assert.equal(await page.locator("#runs-status").inputValue(), "succeeded");
  await page.locator("#runs-status").selectOption("failed");
  await page.waitForURL(/status=failed/);
});

test("a delivery opens on its own page: its outcome, headers (credentials redacted) and body", async (t) => {
  const { flow, run } = await flowWithRun("Delivered orders", { Authorization: "Bearer sk_live_do_not_show" });
  const page = await env.login(t);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Deliveries" }).click();
  await page.getByRole("table", { name: "Deliveries" }).getByRole("link", { name: /Open the delivery/ }).first().click();
  await page.getByText("Accepted and answered 202; it started a run.").waitFor();
  assert.match(new URL(page.url()).pathname, /^\/deliveries\/[\w-]+$/);
  const headers = page.getByRole("table", { name: "Headers" });
  assert.equal(await headers.locator('tr:has(th:text-is("authorization")) td').textContent(), "[redacted]");
  assert.equal(await headers.locator('tr:has(th:text-is("content-type")) td').textContent(), "application/json");
  assert.equal(await page.getByLabel("Body", { exact: true }).textContent(), '{"n":21}');
  assert.equal(await page.getByText("sk_live_do_not_show").count(), 0, "the secret is nowhere on the page");
  await page.screenshot({ path: join(shots, "delivery.png") });

  // A reload stays on it; its run is a link away.
  await page.reload();
  await page.getByRole("table", { name: "Headers" }).waitFor();
  await page.getByRole("link", { name: run.id }).click();
  await page.locator('[data-node="double"]').waitFor();

  // After the flow is deleted, its runs and deliveries stay, marked so.
  assert.equal((await env.api(`/api/v1/flows/${flow.id}`, { method: "DELETE" })).status, 204);
  await page.reload();
  await page.getByText("(deleted)").first().waitFor();
  assert.equal(await page.getByRole("button", { name: "Replay" }).isDisabled(), true, "a deleted flow's run cannot be replayed");
});
