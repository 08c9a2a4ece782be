// Browser tests of the node panel's code fields: completion of the paths of
// a test run's data, and the live preview of expressions and templates
// with that data (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServer } from "node:http";
import { useServer, shots, expectFailure } from "./harness.mjs";

const env = useServer();

/** offers waits until the completion list shows exactly these options. */
async function offers(page, expected) {
  const labels = page.locator(".cm-tooltip-autocomplete .cm-completionLabel");
  let shown = [];
  for (let i = 0; i < 50; i++) {
    shown = await labels.allTextContents();
    if (JSON.stringify(shown) === JSON.stringify(expected)) {
      // CodeMirror ignores Enter for a moment after the list changes, so
      // that a key pressed while it updates takes no option by mistake.
      await new Promise((r) => setTimeout(r, 150));
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(shown, expected, "the completion list");
}

/** previewOf is the preview that describes a code field. */
async function previewOf(page, field) {
  return page.locator(`[id="${await field.getAttribute("aria-describedby")}"]`);
}

test("expression and template fields complete paths of the test run's data and preview their values", async (t) => {
  // The API the flow calls, so that the test run succeeds.
  const api = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.setHeader("Content-Type", "application/json");
      res.end('{"ok": true}');
    });
  });
  await new Promise((r) => api.listen(0, "127.0.0.1", r));
  t.after(() => api.close());
  const base = `http://127.0.0.1:${api.address().port}`;

  const created = await env.api("/api/v1/flows", {
    method: "POST",
    body: JSON.stringify({
      name: "Preview orders",
      nodes: [
        { id: "hook", type: "trigger.webhook" },
        { id: "transform", type: "transform", params: { fields: { total: "trigger.body.amount * 2" } } },
        { id: "call", type: "http.request", params: { method: "POST", url: `${base}/orders/{{ steps.transform.total }}` } },
      ],
      edges: [
        { from: "hook", to: "transform" },
        { from: "transform", to: "call" },
      ],
    }),
  });
  assert.equal(created.status, 201, await created.clone().text());

  const page = await env.login(t);
  await page.getByRole("link", { name: "Preview orders" }).click();
  await page.locator('[data-node="transform"]').waitFor();

  // Before any test there is no sample data to preview with.
  await page.locator('[data-node="transform"]').click();
  const transform = page.getByRole("complementary", { name: "Node transform" });
  await transform.getByText("Run a test or listen for an event to preview with real data.").waitFor();

  await page.locator("summary", { hasText: "Test payload" }).click();
  await page.locator("#test-payload").fill('{"amount": 21, "customer": {"email": "ada@example.com"}}');
  await page.getByRole("button", { name: "Test", exact: true }).click();
  await page.locator('[data-node="call"][data-result="succeeded"]').waitFor();

  // The existing field previews its value with the test run's data.
  const total = transform.getByLabel("Value of total", { exact: true });
  await (await previewOf(page, total)).getByText("42", { exact: true }).waitFor();

  // A new field: typing offers the trigger's paths; Enter takes one.
  await transform.getByRole("button", { name: "Add" }).click();
  await transform.getByLabel("Name", { exact: true }).nth(1).fill("email");
  const email = transform.getByLabel("Value of email", { exact: true });
  await email.click();
  await page.keyboard.type("trigger.body.cu");
  await offers(page, ["trigger.body.customer", "trigger.body.customer.email"]);
  await page.screenshot({ path: join(shots, "node-panel-completion.png") });
  await page.keyboard.type("stomer.em");
  await offers(page, ["trigger.body.customer.email"]);
  await page.keyboard.press("Enter");
  await page.locator(".cm-tooltip-autocomplete").waitFor({ state: "detached" });
  assert.equal(await email.textContent(), "trigger.body.customer.email");
  const emailPreview = await previewOf(page, email);
  await emailPreview.getByText('"ada@example.com"', { exact: true }).waitFor();

  // A source that does not compile shows why, under the field.
  expectFailure(page, /\/api\/v1\/expressions\/evaluate$/, 422);
  await page.keyboard.type(" +");
  assert.match(await emailPreview.locator(".problem").textContent(), /unexpected token EOF/);
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Backspace");
  await emailPreview.getByText('"ada@example.com"', { exact: true }).waitFor();
  await page.screenshot({ path: join(shots, "node-panel-preview.png") });

  // Tab leaves the editor, as in any form.
  await page.keyboard.press("Tab");
  assert.equal(await email.evaluate((el) => el.contains(document.activeElement)), false, "Tab moved the focus on");

  // A template previews its rendered text; typing {{ closes the placeholder,
  // and completion works inside it.
  await page.locator('[data-node="call"]').click();
  const call = page.getByRole("complementary", { name: "Node call" });
  // Named by its label, as an input would be.
  const url = call.getByRole("textbox", { name: "URL" });
  const urlPreview = await previewOf(page, url);
  await urlPreview.getByText(`"${base}/orders/42"`, { exact: true }).waitFor();
  await url.click();
  // The end of the text, not of a wrapped line.
  await page.keyboard.press("Control+End");
  await page.keyboard.type("?to={{");
  assert.equal(await url.textContent(), `${base}/orders/{{ steps.transform.total }}?to={{  }}`);
  await page.keyboard.type("trigger.body.customer.e");
  await offers(page, ["trigger.body.customer.email"]);
  await page.keyboard.press("Enter");
  assert.equal(await url.textContent(), `${base}/orders/{{ steps.transform.total }}?to={{ trigger.body.customer.email }}`);
  await urlPreview.getByText(`"${base}/orders/42?to=ada@example.com"`, { exact: true }).waitFor();
  await page.screenshot({ path: join(shots, "node-panel-template-preview.png") });
});
