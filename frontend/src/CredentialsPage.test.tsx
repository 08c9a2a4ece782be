import { act } from "react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { json, mounted, setValue, settle } from "./testing";
import { Client, type CredentialType } from "./api";
import { CredentialsPage } from "./CredentialsPage";

const types: CredentialType[] = [
  { name: "http_bearer", title: "Bearer token", summary: "", schema: {}, fields: [{ name: "token", type: "string", label: "Token", required: true, secret: true }] },
  {
    name: "slack",
    title: "Slack",
    summary: "",
    schema: {},
    fields: [
      { name: "webhook_url", type: "string", label: "Webhook URL", secret: true },
      { name: "channel", type: "string", label: "Channel" },
    ],
  },
];

/** A server with one bearer credential; a PUT without data is refused on its field. */
function fakeServer() {
  const puts: { path: string; body: unknown }[] = [];
  const fetch = async (input: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    if (input === "/api/v1/credentials" && method === "GET") {
      return json(200, { credentials: [{ name: "orders-api", type: "http_bearer", created_at: "", updated_at: "", used_by: [{ id: "f1", name: "Orders" }] }] });
    }
    if (input === "/api/v1/credential-types") return json(200, { credential_types: types });
    if (input === "/api/v1/credentials/orders-api" && method === "DELETE") {
      return json(409, { error: 'credential "orders-api" is used by the active flows "Orders": deactivate them, or change their credential, first' });
    }
    if (input === "/api/v1/credentials/orders-api" && method === "PUT") {
      const body = JSON.parse(String(init.body)) as { type: string; data: Record<string, string> };
      puts.push({ path: input, body });
      if (body.type === "http_bearer" && !body.data.token) {
        return json(422, { error: "credential is invalid: 1 problem", problems: [{ node: "", field: "data.token", message: "is required" }] });
      }
      return json(200, { name: "orders-api", type: body.type, created_at: "", updated_at: "", used_by: [] });
    }
    return json(404, { error: "not here" });
  };
  return { puts, fetch };
}

describe("CredentialsPage", () => {
  const ctx = mounted();

  async function open() {
    const server = fakeServer();
    const client = new Client({ fetch: server.fetch as typeof fetch });
    const queries = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    await ctx.render(
      <QueryClientProvider client={queries}>
        <CredentialsPage client={client} />
      </QueryClientProvider>,
    );
    await settle();
    const edit = ctx.container.querySelector<HTMLButtonElement>('button[aria-label="Edit orders-api"]')!;
    await act(async () => edit.click());
    const form = ctx.container.querySelector<HTMLFormElement>('form[aria-label="Edit credential orders-api"]')!;
    return { server, edit, form };
  }

  const field = (form: HTMLElement, label: string) => {
    const l = [...form.querySelectorAll("label")].find((x) => x.textContent === label)!;
    return form.querySelector<HTMLInputElement & HTMLSelectElement>(`[id="${l.htmlFor}"]`)!;
  };

  it("opens a form for new data, the type chosen, the fields empty, secrets hidden", async () => {
    const { edit, form } = await open();
    expect(form).not.toBeNull();
    expect(edit.getAttribute("aria-expanded")).toBe("true");
    expect(form.textContent).toContain("current values are not shown: credential data is write-only");
    expect(field(form, "Type").value).toBe("http_bearer");
    const token = field(form, "Token");
    expect(token.type).toBe("password");
    expect(token.value).toBe("");
    expect(document.activeElement, "the keyboard is on the first new value").toBe(token);
    expect(form.querySelector('[id$="-name"]'), "the name cannot be changed").toBeNull();
  });

  it("sends the typed data with PUT and shows the server's problems under their fields", async () => {
    const { server, edit, form } = await open();
    await act(async () => form.requestSubmit());
    await settle();
    expect(server.puts).toEqual([{ path: "/api/v1/credentials/orders-api", body: { type: "http_bearer", data: {} } }]);
    const token = field(form, "Token");
    const problem = token.closest(".field")!.querySelector(".problem");
    expect(problem?.textContent).toBe("is required");
    expect(token.getAttribute("aria-describedby")).toBe(problem?.id);

    await act(async () => setValue(field(form, "Token"), "tok_new_0123"));
    await act(async () => form.requestSubmit());
    await settle();
    expect(server.puts[1]).toEqual({ path: "/api/v1/credentials/orders-api", body: { type: "http_bearer", data: { token: "tok_new_0123" } } });
    expect(ctx.container.querySelector('form[aria-label^="Edit credential"]'), "saved: the form closes").toBeNull();
    expect(ctx.container.textContent).toContain('Credential "orders-api" updated.');
    expect(document.activeElement, "the keyboard is back on the row's Edit button").toBe(edit);
  });

  it("changes the type, with that type's fields", async () => {
    const { server, form } = await open();
    await act(async () => setValue(field(form, "Type"), "slack"));
    expect([...form.querySelectorAll(".field label")].map((l) => l.textContent)).toEqual(["Webhook URL", "Channel"]);
    expect(field(form, "Webhook URL").type).toBe("password");
    expect(field(form, "Channel").type).toBe("text");
    await act(async () => setValue(field(form, "Webhook URL"), "https://hooks.slack.test/T1"));
    await act(async () => form.requestSubmit());
    await settle();
    expect(server.puts).toEqual([{ path: "/api/v1/credentials/orders-api", body: { type: "slack", data: { webhook_url: "https://hooks.slack.test/T1" } } }]);
  });

  it("cancels without sending anything", async () => {
    const { server, form } = await open();
    const cancel = [...form.querySelectorAll("button")].find((b) => b.textContent === "Cancel")!;
    await act(async () => cancel.click());
    expect(ctx.container.querySelector('form[aria-label^="Edit credential"]')).toBeNull();
    expect(server.puts).toEqual([]);
  });

  it("says why a credential an active flow uses is kept", async () => {
    await open();
    const confirm = window.confirm;
    let asked = "";
    window.confirm = (message?: string) => {
      asked = message ?? "";
      return true;
    };
    try {
      const remove = [...ctx.container.querySelectorAll("button")].find((b) => b.textContent === "Delete")!;
      await act(async () => remove.click());
      await settle();
    } finally {
      window.confirm = confirm;
    }
    expect(asked).toBe('Delete the credential "orders-api"? Used by: Orders.');
    expect(ctx.container.querySelector('[role="alert"]')?.textContent).toBe(
      'credential "orders-api" is used by the active flows "Orders": deactivate them, or change their credential, first',
    );
  });
});
