// Browser test of the flow settings: a concurrency limit is set in the
// editor, saved with the flow, refused under its field when wrong, and kept
// when a version is restored (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { useServer, shots, expectFailure } from "./harness.mjs";

const env = useServer();

test("a flow's concurrency limit is set, refused when wrong, and saved with the flow", async (t) => {
  const created = await env.api("/api/v1/flows", {
    method: "POST",
    body: JSON.stringify({ name: "Limited orders", nodes: [{ id: "hook", type: "trigger.webhook" }], edges: [] }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  const flow = await created.json();

  const page = await env.login(t);
  await page.getByRole("link", { name: "Limited orders" }).click();
  await page.locator('[data-node="hook"]').waitFor();

  await page.locator("summary", { hasText: "Flow settings" }).click();
  const limit = page.getByLabel("Most runs at once");
  assert.equal(await limit.inputValue(), "", "no limit at first");
  expectFailure(page, new RegExp(`/api/v1/flows/${flow.id}$`), 422);
  await limit.fill("0");
  await page.getByText("Unsaved changes").waitFor();
  await page.getByRole("button", { name: "Save", exact: true }).click();
  // 0 is not a limit a user means; the server says so under the field.
  await page.locator(".flow-settings [role=alert]").waitFor();
  const refused = await (await env.api(`/api/v1/flows/${flow.id}`)).json();
  assert.equal(refused.version, 1, "nothing was saved");

  await limit.fill("2");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText("Saved as version 2.").waitFor();
  await page.locator("summary", { hasText: "at most 2 at once" }).waitFor();
  assert.equal(await limit.isVisible(), true, "the settings stay open after the save");
  await page.screenshot({ path: join(shots, "flow-settings.png") });
  const saved = await (await env.api(`/api/v1/flows/${flow.id}`)).json();
  assert.deepEqual(saved.settings, { concurrency: 2 });

  // Undo takes the setting back too.
  await page.getByRole("button", { name: "Undo" }).click();
  assert.equal(await limit.inputValue(), "0");
  await page.getByRole("button", { name: "Undo" }).click();
  assert.equal(await limit.inputValue(), "");
});
