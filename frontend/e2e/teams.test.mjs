// Browser end-to-end test of teams (see harness.mjs): the owner invites an
// editor and a viewer through the users page; the editor joins and saves a
// flow; the viewer joins and cannot (the control is disabled and the API
// refuses); the audit log shows all of it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { useServer, shots, expectFailure } from "./harness.mjs";

const env = useServer();

const passwords = { owner: "owner-password-0123", editor: "editor-password-0123", viewer: "viewer-password-0123" };

/** nav is a link of the main navigation. */
const nav = (page, name) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });

/** invite invites someone on the users page and answers the token of the
 * link it shows once. */
async function invite(page, email, role) {
  const form = page.getByRole("form", { name: "Invite" });
  await form.getByLabel("Email").fill(email);
  await form.getByLabel("Role").selectOption(role);
  await form.getByRole("button", { name: "Invite" }).click();
  const shown = page.getByRole("status", { name: "New invitation" });
  await shown.getByText(`Send this link to ${email}`).waitFor();
  const link = await shown.getByLabel("Invitation link").inputValue();
  assert.match(link, /\/join#.+$/, "the link holds the token in its fragment");
  return link.slice(link.indexOf("#") + 1);
}

/** join opens an invitation's link in a browser of its own and makes the user. */
async function joinAs(t, token, text, name, password, shot) {
  const page = await env.freshPage(t);
  await page.goto(`${env.baseURL}/join#${token}`);
  await page.getByText(text).waitFor();
  if (shot) await page.screenshot({ path: join(shots, shot) });
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Repeat password").fill(password);
  await page.getByRole("button", { name: "Join" }).click();
  await page.getByRole("heading", { name: "Flows" }).first().waitFor();
  assert.equal(new URL(page.url()).pathname, "/flows", "a new user lands on the flows");
  return page;
}

test("the owner invites an editor and a viewer; the editor saves, the viewer cannot; the audit log shows it", async (t) => {
  // No user at start: the admin token invites the owner, who joins through the API.
  const ownerInvitation = await env.json("/api/v1/invitations", { method: "POST", body: JSON.stringify({ email: "owner@example.com", role: "owner" }) });
  const accepted = await fetch(`${env.baseURL}/api/v1/invitation/accept`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: ownerInvitation.token, name: "Olga Owner", password: passwords.owner }),
  });
  assert.equal(accepted.status, 201, await accepted.text());
  const flow = await env.createFlow({ name: "Team flow", nodes: [{ id: "hook", type: "trigger.webhook" }], edges: [] });

  // The owner logs in with email and password.
  const owner = await env.newPage(t);
  await owner.goto(env.baseURL + "/");
  await owner.getByLabel("Email").fill("owner@example.com");
  expectFailure(owner, /\/api\/v1\/session$/, 401);
  await owner.getByLabel("Password").fill("not the password");
  await owner.getByRole("button", { name: "Log in" }).click();
  assert.equal(await owner.getByRole("alert").textContent(), "wrong email or password");
  await owner.getByLabel("Password").fill(passwords.owner);
  await owner.getByRole("button", { name: "Log in" }).click();
  await nav(owner, "Users").click();
  await owner.getByRole("table", { name: "Users" }).getByText("owner@example.com").waitFor();
  const editorToken = await invite(owner, "editor@example.com", "editor");
  await owner.screenshot({ path: join(shots, "users-invited.png") });
  const viewerToken = await invite(owner, "viewer@example.com", "viewer");
  await owner.getByRole("table", { name: "Pending invitations" }).getByText("viewer@example.com").waitFor();
  await owner.screenshot({ path: join(shots, "users.png") });

  // The editor joins in a browser of their own, opens the flow and saves an edit.
  const editor = await joinAs(t, editorToken, "You are invited as editor (editor@example.com).", "Ed Editor", passwords.editor, "join.png");
  assert.equal(await nav(editor, "Users").count(), 0, "an editor has no users page");
  await editor.getByRole("link", { name: "Team flow" }).click();
  await editor.locator('[data-node="hook"]').waitFor();
  await editor.getByText("Flow settings").click();
  await editor.getByLabel("Most runs at once").fill("3");
  await editor.getByRole("button", { name: "Save", exact: true }).click();
  await editor.getByRole("status").getByText("Saved as version 2.").waitFor();

  // The viewer joins and opens the flow: Save is disabled, and the API
  // refuses the save anyway.
  const viewer = await joinAs(t, viewerToken, "You are invited as viewer (viewer@example.com).", "Vi Viewer", passwords.viewer);
  await viewer.getByRole("link", { name: "Team flow" }).click();
  await viewer.locator('[data-node="hook"]').waitFor();
  const save = viewer.getByRole("button", { name: "Save", exact: true });
  assert.equal(await save.isDisabled(), true, "a viewer cannot save");
  assert.match(await save.getAttribute("title"), /flows:write/, "and is told why");
  assert.equal(await viewer.getByRole("button", { name: "Test", exact: true }).isDisabled(), true);
  await viewer.screenshot({ path: join(shots, "viewer-editor.png") });
  expectFailure(viewer, new RegExp(`/api/v1/flows/${flow.id}$`), 403);
  const refused = await viewer.evaluate(async (id) => {
    const res = await fetch(`/api/v1/flows/${id}`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "Taken over", nodes: [{ id: "hook", type: "trigger.webhook" }], edges: [] }),
    });
    return { status: res.status, body: await res.json() };
  }, flow.id);
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.match(refused.body.error, /flows:write/);
  const stored = await env.json(`/api/v1/flows/${flow.id}`);
  assert.equal(stored.name, "Team flow", "the viewer changed nothing");
  assert.equal(stored.version, 2);

  // The owner's tokens and account pages.
  await nav(owner, "Tokens").click();
  const tokenForm = owner.getByRole("form", { name: "New token" });
  await tokenForm.getByLabel("Name").fill("ci");
  await tokenForm.getByLabel("flows:read").check();
  await tokenForm.getByRole("button", { name: "Create token" }).click();
  const made = await owner.getByLabel("Token", { exact: true }).inputValue();
  assert.match(made, /^hf_/);
  await owner.screenshot({ path: join(shots, "tokens.png") });
  const asToken = await fetch(`${env.baseURL}/api/v1/flows`, { headers: { Authorization: `Bearer ${made}` } });
  assert.equal(asToken.status, 200, "the new token reads flows");
  const writeAsToken = await fetch(`${env.baseURL}/api/v1/flows/${flow.id}/deactivate`, { method: "POST", headers: { Authorization: `Bearer ${made}` } });
  assert.equal(writeAsToken.status, 403, "but only what its scopes allow");
  await nav(owner, "Account").click();
  await owner.getByRole("table", { name: "Sessions" }).getByText("(this session)").waitFor();
  await owner.screenshot({ path: join(shots, "account.png") });

  // The owner reads the audit log: the invitations, the joins, the editor's
  // save and the logins.
  await nav(owner, "Audit").click();
  const log = owner.getByRole("table", { name: "Audit log" });
  await log.waitFor();
  for (const action of ["user.invited", "user.joined", "flow.updated", "login", "login.failed"]) {
    await log.locator(`tr[data-action="${action}"]`).first().waitFor();
  }
  const updated = log.locator('tr[data-action="flow.updated"]');
  assert.match(await updated.first().textContent(), /editor@example\.com/, "the save is the editor's");
  assert.match(await log.locator('tr[data-action="login"]').first().textContent(), /owner@example\.com/);
  assert.ok((await log.locator('tr[data-action="user.joined"]').count()) >= 2, "the editor and the viewer joined");
  await owner.screenshot({ path: join(shots, "audit.png") });

  // The filters narrow the log and stay in the address.
  await owner.getByLabel("Action").selectOption("flow.");
  await owner.waitForURL(/\/audit\?action=flow\./);
  await log.locator('tr[data-action="flow.updated"]').first().waitFor();
  assert.equal(await log.locator('tbody tr:not([data-action^="flow."])').count(), 0, "only flow events");
  await owner.reload();
  await owner.getByRole("table", { name: "Audit log" }).locator('tr[data-action="flow.updated"]').first().waitFor();
  assert.equal(await owner.getByLabel("Action").inputValue(), "flow.");
});
