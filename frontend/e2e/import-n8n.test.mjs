// Browser tests of importing an n8n workflow from the flows page: the report
// is read before anything is saved, a valid flow is saved and opens on its
// canvas ready to test, and one that is not valid cannot be saved, with the
// reason shown (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { useServer, shots } from "./harness.mjs";

const env = useServer();

// A webhook → Edit Fields → Respond to Webhook workflow, with sticky notes.
const webhookSetRespond = fileURLToPath(
  new URL("../../n8nimport/testdata/n8n/0232_Respondtowebhook_Stickynote_Create_Webhook.json", import.meta.url),
);

// A workflow whose one expression has no Hookflow translation.
const untranslatable = {
  name: "Static data",
  nodes: [
    { name: "Hook", type: "n8n-nodes-base.webhook", typeVersion: 2, position: [0, 0], parameters: { httpMethod: "POST", path: "x" } },
    {
      name: "Remember",
      type: "n8n-nodes-base.set",
      typeVersion: 1,
      position: [200, 0],
      parameters: { values: { string: [{ name: "last", value: "={{ $getWorkflowStaticData('global').last }}" }] } },
    },
  ],
  connections: { Hook: { main: [[{ node: "Remember", type: "main", index: 0 }]] } },
};

test("an n8n workflow is imported with its report, saved, opened and tested", async (t) => {
  const page = await env.login(t);
  await page.getByLabel("Import from n8n").setInputFiles(webhookSetRespond);
  const report = page.getByRole("region", { name: "Import from n8n: Imported from n8n" });
  await report.getByText("Nodes: 2 converted, 1 with caveats, 0 not converted. Expressions: 2 translated, 0 not translated.").waitFor();
  const webhook = report.getByRole("table", { name: "Nodes" }).getByRole("row").filter({ hasText: "n8n-nodes-base.webhook" });
  assert.match(await webhook.textContent(), /Converted with caveats.*the n8n path .* is not kept/);
  const expressions = report.getByRole("table", { name: "Expressions" });
  assert.match(await expressions.textContent(), /\{\{ trigger\.query\.first_name \}\}/);
  await page.screenshot({ path: join(shots, "import-n8n-report.png") });

  const flows = await env.json("/api/v1/flows");
  assert.deepEqual(flows.flows, [], "nothing is saved before Save");
  await report.getByRole("button", { name: "Save as a new flow" }).click();
  await page.locator('[data-node="respond_to_webhook"]').waitFor();
  assert.match(page.url(), /\/flows\/[^/]+$/);

  await page.locator("summary", { hasText: "Test payload" }).click();
  await page.locator("#test-payload").fill("{}");
  await page.getByRole("button", { name: "Test", exact: true }).click();
  await page.locator('[data-node="respond_to_webhook"][data-result="succeeded"]').waitFor();
});

test("an n8n workflow that is not valid cannot be saved, and says why", async (t) => {
  const page = await env.login(t);
  await page.getByLabel("Import from n8n").setInputFiles({
    name: "static-data.json",
    mimeType: "application/json",
    buffer: Buffer.from(JSON.stringify(untranslatable)),
  });
  const report = page.getByRole("region", { name: "Import from n8n: Static data" });
  await report.getByText("Expressions: 0 translated, 1 not translated.").waitFor();
  assert.match(await report.getByRole("table", { name: "Expressions" }).textContent(), /Not translated: /);
  const save = report.getByRole("button", { name: "Save as a new flow" });
  assert.equal(await save.isDisabled(), true);
  const why = await page.locator(`#${await save.getAttribute("aria-describedby")}`).textContent();
  assert.match(why, /not valid, so it cannot be saved/);
  assert.match(await report.textContent(), /node remember, params\.fields\.last: /);
  await page.screenshot({ path: join(shots, "import-n8n-not-valid.png") });

  await report.getByRole("button", { name: "Cancel" }).click();
  await report.waitFor({ state: "detached" });
});
