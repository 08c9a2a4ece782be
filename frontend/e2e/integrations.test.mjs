// Browser test of the integrations as a user meets them: credentials of the
// new types stored on the credentials page, and nodes taken from the palette
// whose forms come from their specs alone: an LLM asked for JSON matching a
// schema (against a fake that answers as OpenAI's API documents), its answer
// bound into a database query (see harness.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHTTPServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useServer, shots } from "./harness.mjs";

const env = useServer();

/** connect connects the node chosen on the canvas to another, from its panel. */
async function connect(page, from, to) {
  await page.locator(`.react-flow__node[data-id="${from}"]`).click();
  const form = page.getByRole("form", { name: `Connect ${from}` });
  await form.getByLabel("Connect to node").selectOption(to);
  await form.getByRole("button", { name: "Connect" }).click();
  await page.locator(`.react-flow__edge[data-id="${from}:->${to}"]`).waitFor({ state: "attached" });
}

test("an LLM reads an invoice as JSON and a database query uses its answer, built from the palette", async (t) => {
  // OpenAI's Chat Completions API, as documented: the answer to a request
  // with response_format json_schema.
  const requests = [];
  const llm = createHTTPServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      requests.push({ path: req.url, auth: req.headers.authorization, body: JSON.parse(body) });
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({
        id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", object: "chat.completion", created: 1741569952, model: "gpt-4o-mini-2024-07-18",
        choices: [{ index: 0, message: { role: "assistant", content: '{"total": 12.5, "currency": "EUR"}', refusal: null }, logprobs: null, finish_reason: "stop" }],
        usage: { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 },
      }));
    });
  });
  await new Promise((r) => llm.listen(0, "127.0.0.1", r));
  t.after(() => llm.close());
  const dir = mkdtempSync(join(tmpdir(), "hookflow-e2e-db-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const page = await env.login(t);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Credentials" }).click();
  const form = page.getByRole("form", { name: "New credential" });
  const key = "sk-e2e-secret-key-0123456789";
  await form.getByLabel("Name", { exact: true }).fill("invoice-llm");
  await form.getByLabel("Type").selectOption("openai");
  await form.getByLabel("Base URL").fill(`http://127.0.0.1:${llm.address().port}/v1`);
  await form.getByLabel("API key").fill(key);
  await form.getByRole("button", { name: "Store credential" }).click();
  await page.getByRole("table", { name: "Credentials" }).getByText("invoice-llm").waitFor();
  await form.getByLabel("Name", { exact: true }).fill("ledger");
  await form.getByLabel("Type").selectOption("database");
  await form.getByLabel("Database URL").fill(`sqlite://${join(dir, "ledger.db")}`);
  await form.getByRole("button", { name: "Store credential" }).click();
  await page.getByRole("table", { name: "Credentials" }).getByText("ledger").waitFor();

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Flows" }).click();
  await page.getByRole("textbox", { name: "New flow" }).fill("Invoice reader");
  await page.getByRole("button", { name: "Create" }).click();
  await page.locator('[data-node="webhook"]').waitFor();
  const palette = page.getByRole("complementary", { name: "Node palette" });

  await palette.getByRole("button", { name: "LLM chat", exact: true }).click();
  const chat = page.getByRole("complementary", { name: "Node llm_chat" });
  await chat.locator("#field-params-credential").selectOption("invoice-llm");
  await chat.locator("#field-params-model").fill("gpt-4o-mini");
  await chat.locator("#field-params-system").fill("Answer with the invoice's total and currency.");
  await chat.locator("#field-params-user").fill("{{ trigger.body.text }}");
  await chat.locator("#field-params-response_format").selectOption("json_schema");
  await chat.locator("#field-params-json_schema").fill(
    '{"type": "object", "properties": {"total": {"type": "number"}, "currency": {"type": "string"}}, "required": ["total", "currency"], "additionalProperties": false}',
  );

  await palette.getByRole("button", { name: "Database query", exact: true }).click();
  const query = page.getByRole("complementary", { name: "Node db_query" });
  await query.locator("#field-params-credential").selectOption("ledger");
  await query.locator("#field-params-query").fill("SELECT :total * 100 AS cents, :currency AS currency");
  for (const [name, value] of [["total", "steps.llm_chat.json.total"], ["currency", "steps.llm_chat.json.currency"]]) {
    await query.getByRole("button", { name: "Add" }).click();
    await query.getByLabel("Name", { exact: true }).last().fill(name);
    await query.getByLabel(`Value of ${name}`).fill(value);
  }
  await query.locator("#field-params-output").selectOption("one");

  await connect(page, "webhook", "llm_chat");
  await connect(page, "llm_chat", "db_query");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("status").getByText("Saved as version 2.").waitFor();
  await page.screenshot({ path: join(shots, "integrations-canvas.png") });

  await page.locator("summary", { hasText: "Test payload" }).click();
  await page.locator("#test-payload").fill('{"text": "Invoice 17: 12.50 EUR"}');
  await page.getByRole("button", { name: "Test", exact: true }).click();
  await page.locator('[data-node="db_query"][data-result="succeeded"]').waitFor();
  await page.locator('[data-node="db_query"]').click();
  assert.deepEqual(JSON.parse(await page.getByLabel("Test output of db_query").textContent()), { cents: 1250, currency: "EUR" });
  await page.locator('[data-node="llm_chat"]').click();
  const answer = JSON.parse(await page.getByLabel("Test output of llm_chat").textContent());
  assert.deepEqual(answer.json, { total: 12.5, currency: "EUR" });
  assert.deepEqual(answer.usage, { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 });
  await page.screenshot({ path: join(shots, "integrations-test.png") });

  assert.equal(requests.length, 1);
  assert.equal(requests[0].path, "/v1/chat/completions");
  assert.equal(requests[0].auth, `Bearer ${key}`);
  assert.deepEqual(requests[0].body.messages, [
    { role: "system", content: "Answer with the invoice's total and currency." },
    { role: "user", content: "Invoice 17: 12.50 EUR" },
  ]);
  assert.equal(requests[0].body.response_format.type, "json_schema");
  assert.deepEqual(requests[0].body.response_format.json_schema.schema.required, ["total", "currency"]);
  assert.ok(!(await page.content()).includes(key), "the key is never on a page");
});
