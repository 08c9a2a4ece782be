// The browser tests' harness: the real binary (bin/hookflow, built by `make
// build` with the editor embedded) on a temporary SQLite database, driven
// through Debian's chromium with playwright-core. Each test file calls
// useServer() once; its tests share that server and browser. Screenshots of
// each screen go to frontend/screenshots/ (git-ignored), for review.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const binary = process.env.HOOKFLOW_BINARY ?? join(root, "bin", "hookflow");
/** Where screenshots go. */
export const shots = join(here, "..", "screenshots");
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

/** watchErrors collects the page's console errors and uncaught exceptions. */
function watchErrors(page) {
  const errors = [];
  page.on("console", (m) => {
    // The browser logs every 4xx answer as a failed resource; the page
    // handles those (a refused login, a flow with problems), so only other
    // errors count.
    const handled = /^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text());
    if (m.type() === "error" && !handled) errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
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

  /** newPage opens a page that fails the test on any console error. */
  env.newPage = async (t) => {
    await env.browser.clearCookies(); // Each test starts logged out.
    const page = await env.browser.newPage();
    const errors = watchErrors(page);
    t.after(async () => {
      await page.close();
      assert.deepEqual(errors, [], "no console errors");
    });
    return page;
  };

  /** freshPage opens a page in a browser context of its own (its own
   * cookies: another person at another browser), closed after the test,
   * failing the test on any console error as newPage does. */
  env.freshPage = async (t) => {
    const profile = mkdtempSync(join(tmpdir(), "hookflow-chromium-"));
    const context = await launch(profile);
    const page = await context.newPage();
    const errors = watchErrors(page);
    t.after(async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      assert.deepEqual(errors, [], "no console errors");
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
    return page;
  };
  return env;
}
