// Tests of the harness's own checks: fixtures/harness-failures.mjs breaks
// each rule on purpose in a test of its own, run here in a node --test of its
// own; each must fail, saying what went wrong, and the two that keep the
// rules must pass. Without the checks, the failing ones would pass.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const fixture = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "harness-failures.mjs");

/** runFixture runs the fixture's tests and answers each one's TAP report by name. */
async function runFixture() {
  // Without the runner's own variable, which would make the child report
  // to this runner instead of printing TAP.
  const { NODE_TEST_CONTEXT, ...env } = process.env;
  const child = spawn(process.execPath, ["--test", "--test-reporter=tap", fixture], { env, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  await new Promise((r) => child.once("close", r));
  const reports = {};
  for (const block of out.split(/^(?=(?:not )?ok \d+ - )/m).slice(1)) {
    const [, verdict, name] = block.match(/^(not ok|ok) \d+ - (.*)$/m);
    reports[name] = { ok: verdict === "ok", text: block };
  }
  return reports;
}

test("the harness fails a test on what goes wrong on its page, and only then", async () => {
  const reports = await runFixture();
  const expected = {
    "passes: a page where nothing goes wrong": null,
    "passes: an answer declared expected": null,
    "fails: a console error": /console error: logged on purpose/,
    "fails: an uncaught exception": /uncaught exception: thrown on purpose/,
    "fails: an error answer not declared": /GET \/api\/v1\/no-such-thing answered 401/,
    "fails: an answer declared with another status": /GET \/api\/v1\/no-such-thing answered 401/,
    "fails: a request that gets no answer": /GET \/unreachable failed: net::ERR_CONNECTION_REFUSED/,
    "fails: an axe violation checked for": /accessibility violations on fixture:\s+button-name \(critical\)[^\n]*\n\s+button\n/,
    "fails: an axe violation on a screenshot": /accessibility violations on null:\s+button-name \(critical\)/,
    "fails: an axe violation on the screen a test ends on": /accessibility violations on \S+\/fixture at the end of the test:\s+button-name \(critical\)/,
  };
  assert.deepEqual(Object.keys(reports).sort(), Object.keys(expected).sort(), "each fixture test ran");
  for (const [name, says] of Object.entries(expected)) {
    const { ok, text } = reports[name];
    if (says === null) assert.ok(ok, `${name}:\n${text}`);
    else {
      assert.ok(!ok, `${name}: it passed`);
      assert.match(text, says, name);
    }
  }
});
