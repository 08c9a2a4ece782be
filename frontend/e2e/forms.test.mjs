// Browser tests of what a new user meets first in the editor's forms: a
// select with nothing chosen says so, an empty field shows its default, and
// the test payload is kept, with the requests the trigger took on offer
// (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { useServer, shots } from "./harness.mjs";

const env = useServer();

test("the webhook's panel shows no scheme chosen and the default methods; the test payload is kept", async (t) => {
  const created = await env.api("/api/v1/flows", {
    method: "POST",
    body: JSON.stringify({
      name: "First contact",
      nodes: [
        { id: "hook", type: "trigger.webhook" },
        { id: "double", type: "transform", params: { fields: { n: "trigger.body.amount * 2" } } },
      ],
      edges: [{ from: "hook", to: "double" }],
    }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  const flow = await created.json();

  const page = await env.login(t);
  await page.getByRole("link", { name: "First contact" }).click();
  await page.locator('[data-node="hook"]').click();
  const panel = page.getByRole("complementary", { name: "Node hook" });
  const scheme = panel.getByLabel("Scheme");
  assert.equal(await scheme.inputValue(), "", "no scheme is chosen");
  assert.equal(await scheme.locator("option:checked").textContent(), "None", "and the box says so");
  assert.equal(await panel.locator("#field-params-methods .cm-placeholder").textContent(), '["POST"]', "the default methods show");
  await page.screenshot({ path: join(shots, "webhook-defaults.png") });

  await page.locator("summary", { hasText: "Test payload" }).click();
  await page.locator("#test-payload").fill('{"amount": 7}');
  await page.getByRole("button", { name: "Test", exact: true }).click();
  await page.locator('[data-node="double"][data-result="succeeded"]').waitFor();

  // Reopened, the flow offers the same payload.
  await page.reload();
  await page.locator('[data-node="hook"]').waitFor();
  await page.locator("summary", { hasText: "Test payload" }).click();
  assert.deepEqual(JSON.parse(await page.locator("#test-payload").textContent()), { amount: 7 });

  // A request the trigger took is on offer as the payload too.
  assert.equal((await env.api(`/api/v1/flows/${flow.id}/activate`, { method: "POST" })).status, 200);
  const posted = await fetch(flow.triggers[0].url, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"amount": 40}' });
  assert.equal(posted.status, 202);
  await page.locator("#received-payloads").focus();
  const option = page.locator("#received-payloads option", { hasText: "accepted" });
  await option.waitFor({ state: "attached" });
  await page.locator("#received-payloads").selectOption(await option.getAttribute("value"));
  await page.waitForFunction(() => document.querySelector("#test-payload")?.textContent.includes("40"));
  assert.deepEqual(JSON.parse(await page.locator("#test-payload").textContent()), { amount: 40 });
});
