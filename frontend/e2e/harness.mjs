// The browser tests' harness: the real binary (bin/hookflow, built by `make
// build` with the editor embedded) on a temporary SQLite database, driven
// through Debian's chromium with playwright-core. Each test file calls
// useServer() once; its tests share that server and browser. Screenshots the
// tests take go to frontend/test-results/ (git-ignored), for review; the
// committed ones in frontend/screenshots/ are screenshots.test.mjs's.
//
// Every page a test opens is watched: a console error, an uncaught
// exception, or a request to the server that fails or answers 400 or more
// fails the test at its end, unless the test declared that answer with
// expectFailure. Each screen is checked with axe when a test screenshots it
// and when the test ends (checkA11y; tests call it for what they open
// between screenshots): a serious or critical violation fails the test.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const binary = process.env.HOOKFLOW_BINARY ?? join(root, "bin", "hookflow");
/** Where the tests' screenshots go. */
export const shots = join(here, "..", "test-results");
/** The admin token the server is started with. */
export const token = "hf_e2e_admin_token_0123456789";

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitReady(url, deadline = Date.now() + 20_000) {
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready`);
}

/** launch starts Debian's chromium with a profile of its own. */
function launch(profileDir) {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}

const axeScript = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** The answers each page's test declared expected: page → [{ url, status }]. */
const expected = new WeakMap();

/** expectFailure lets the page's requests whose URL matches url answer
 * status without failing the test: a test that submits bad input on
 * purpose declares the refusal it provokes. */
export function expectFailure(page, url, status) {
  if (!expected.has(page)) expected.set(page, []);
  expected.get(page).push({ url, status });
}

/** watch collects what went wrong on the page: console errors, uncaught
 * exceptions, and requests to origin that failed or answered 400 or more
 * (less those expectFailure declared). */
function watch(page, origin) {
  const problems = [];
  const ours = (url) => url.startsWith(origin + "/");
  const path = (url) => url.slice(origin.length);
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    // The browser logs each failed request to the server too; the response
    // and requestfailed handlers judge those, expected or not.
    if (m.text().startsWith("Failed to load resource:") && ours(m.location().url)) return;
    problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`uncaught exception: ${e.message}`));
  page.on("response", (r) => {
    const url = r.url();
    if (!ours(url) || r.status() < 400) return;
    if ((expected.get(page) ?? []).some((e) => e.url.test(url) && e.status === r.status())) return;
    problems.push(`${r.request().method()} ${path(url)} answered ${r.status()}`);
  });
  page.on("requestfailed", (r) => {
    // The browser aborts the requests of a page it leaves (a reload, Back,
    // a link): the server did nothing wrong, and no user sees it.
    const error = r.failure()?.errorText;
    if (ours(r.url()) && error !== "net::ERR_ABORTED") problems.push(`${r.method()} ${path(r.url())} failed: ${error}`);
  });
  return problems;
}

/** checkA11y runs axe on the page as it is and fails on any serious or
 * critical violation, naming the screen, each rule, its impact, the
 * elements' selectors and where to read about it. */
export async function checkA11y(page, screenName) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: axeScript });
  const violations = await page.evaluate(async () => {
    const { violations } = await window.axe.run(document, { resultTypes: ["violations"] });
    return violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, targets: v.nodes.map((n) => n.target.join(" ")) }));
  });
  if (violations.length === 0) return;
  const list = violations.map((v) => `  ${v.id} (${v.impact}): ${v.help}\n    ${v.targets.join("\n    ")}\n    ${v.helpUrl}`);
  assert.fail(`accessibility violations on ${screenName}:\n${list.join("\n")}`);
}

/** guard watches a page for the test: its screenshots check the screen
 * with axe first, and when the test ends the screen it is on is checked and
 * nothing may have gone wrong on it. */
function guard(page, origin) {
  const problems = watch(page, origin);
  const screenshot = page.screenshot.bind(page);
  page.screenshot = async (options = {}) => {
    await checkA11y(page, options.path ? basename(options.path, ".png") : page.url());
    return screenshot(options);
  };
  /** done answers the problems seen, after checking the screen left open. */
  return async () => {
    if (!page.isClosed() && page.url().startsWith(origin + "/")) await checkA11y(page, `${page.url()} at the end of the test`);
    return [...problems];
  };
}

/** useServer starts the server and the browser before the file's tests and
 * stops them after. The returned object's fields are set once they run:
 * baseURL, browser, api(path, init) for calls with the admin token, and
 * newPage(t) and login(t) for pages. */
export function useServer() {
  const env = {};
  let server, dataDir, profileDir;
  before(async () => {
    mkdirSync(shots, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), "hookflow-e2e-"));
    profileDir = mkdtempSync(join(tmpdir(), "hookflow-chromium-"));
    const port = await freePort();
    env.baseURL = `http://127.0.0.1:${port}`;
    // The flows call a local test API, which the SSRF guard allows by name.
    server = spawn(binary, ["serve", "--addr", `127.0.0.1:${port}`, "--data-dir", dataDir, "--admin-token", token, "--log-level", "warn",
      "--allowed-hosts", "127.0.0.1"], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    await waitReady(`${env.baseURL}/readyz`);
    env.browser = await launch(profileDir);
  });

  after(async () => {
    await env.browser?.close();
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profileDir, { recursive: true, force: true });
  });

  /** api calls the server's API with the admin token and answers the Response. */
  env.api = (path, init = {}) => fetch(env.baseURL + path, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });

  /** json calls the API with a JSON body and answers the parsed body,
   * failing on an error status. */
  env.json = async (path, init = {}) => {
    const res = await env.api(path, { ...init, headers: { "Content-Type": "application/json", ...(init.headers ?? {}) } });
    const body = await res.json();
    assert.ok(res.ok, `${init.method ?? "GET"} ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };

  /** createFlow saves a flow document through the API. */
  env.createFlow = (doc) => env.json("/api/v1/flows", { method: "POST", body: JSON.stringify(doc) });

  /** newPage opens a page watched as the harness's header says. */
  env.newPage = async (t) => {
    await env.browser.clearCookies(); // Each test starts logged out.
    const page = await env.browser.newPage();
    const done = guard(page, env.baseURL);
    t.after(async () => {
      // Taken before the close, which aborts what is still under way.
      let problems;
      try {
        problems = await done();
      } finally {
        await page.close();
      }
      assert.deepEqual(problems, [], "nothing went wrong on the page");
    });
    return page;
  };

  /** freshPage opens a page in a browser context of its own (its own
   * cookies: another person at another browser), closed after the test,
   * and watched as newPage's is. */
  env.freshPage = async (t) => {
    const profile = mkdtempSync(join(tmpdir(), "hookflow-chromium-"));
    const context = await launch(profile);
    const page = await context.newPage();
    const done = guard(page, env.baseURL);
    t.after(async () => {
      let problems;
      try {
        problems = await done();
      } finally {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      }
      assert.deepEqual(problems, [], "nothing went wrong on the page");
    });
    return page;
  };

  /** login opens a page and logs in with the admin token. */
  env.login = async (t) => {
    const page = await env.newPage(t);
    await page.goto(env.baseURL + "/");
    await page.getByRole("button", { name: "Use an API token" }).click();
    await page.getByLabel("Login token").fill(token);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    // The flows page's list loaded: a test that goes on elsewhere at once
    // would abort its request, which fails the test.
    await page.getByRole("heading", { name: "Flows", level: 2 }).waitFor();
    return page;
  };
  return env;
}
