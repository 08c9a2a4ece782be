import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useEffect, useId, useRef, useState, type FormEvent } from "react";
import { ApiError, errorMessage, type Client, type Credential, type CredentialType, type Problem } from "./api";
import { useAccess } from "./access";

// CredentialsPage lists the credentials with the flows that use each,
// stores new ones and replaces the data of existing ones. Their data is
// write-only: the forms send it, nothing ever shows it again.
export function CredentialsPage({ client }: { client: Client }) {
  const queries = useQueryClient();
  const list = useQuery({ queryKey: ["credentials"], queryFn: () => client.listCredentials() });
  const types = useQuery({ queryKey: ["credential-types"], queryFn: () => client.listCredentialTypes(), staleTime: Infinity });
  const [error, setError] = useState("");
  const [editing, setEditing] = useState<string | null>(null);
  const [notice, setNotice] = useState("");
  const denied = useAccess().why("credentials:write");
  // Closing the edit form takes the keyboard back to its row's Edit button.
  const editButtons = useRef(new Map<string, HTMLButtonElement>());
  const remove = useMutation({
    mutationFn: (name: string) => client.deleteCredential(name),
    onMutate: () => setError(""),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["credentials"] }),
    onError: (err) => setError(errorMessage(err)),
  });

  function closeEdit(name: string, message = "") {
    setEditing(null);
    setNotice(message);
    editButtons.current.get(name)?.focus();
  }

  return (
    <section aria-labelledby="credentials-title">
      <h2 id="credentials-title">Credentials</h2>
      {types.data && !denied && <NewCredential client={client} types={types.data} />}
      {denied && <p className="help">You may see the credentials but not change them: {denied}</p>}
      {error && <p role="alert">{error}</p>}
      <p aria-live="polite" className="help">
        {notice}
      </p>
      {list.isPending && <p aria-busy="true">Loading credentials…</p>}
      {list.isError && <p role="alert">{list.error.message}</p>}
      {list.data && list.data.length === 0 && <p>No credentials yet. Signing secrets, API tokens and webhook URLs live here, sealed.</p>}
      {list.data && list.data.length > 0 && (
        <table aria-label="Credentials">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Used by</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((c) => (
              <Fragment key={c.name}>
                <tr>
                  <td className="mono">{c.name}</td>
                  <td>{c.type}</td>
                  <td>{c.used_by.length === 0 ? "no flow" : c.used_by.map((f) => f.name).join(", ")}</td>
                  <td>
                    <button
                      type="button"
                      ref={(b) => {
                        if (b) editButtons.current.set(c.name, b);
                        else editButtons.current.delete(c.name);
                      }}
                      aria-label={`Edit ${c.name}`}
                      aria-expanded={editing === c.name}
                      disabled={!types.data || !!denied}
                      title={denied || undefined}
                      onClick={() => {
                        setNotice("");
                        setEditing(editing === c.name ? null : c.name);
                      }}
                    >
                      Edit
                    </button>{" "}
                    <button
                      type="button"
                      disabled={!!denied}
                      title={denied || undefined}
                      onClick={() => {
                        // The server refuses while an active flow uses it, and says which.
                        const users = c.used_by.length ? ` Used by: ${c.used_by.map((f) => f.name).join(", ")}.` : "";
                        if (window.confirm(`Delete the credential "${c.name}"?${users}`)) remove.mutate(c.name);
                      }}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
                {editing === c.name && types.data && (
                  <tr className="credential-edit-row">
                    <td colSpan={4}>
                      <EditCredential
                        client={client}
                        credential={c}
                        types={types.data}
                        onDone={(updated) => closeEdit(c.name, updated ? `Credential "${c.name}" updated.` : "")}
                      />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** useCredentialDraft holds a credential form's type and data, and the
 * server's problems with them, for both new and edited credentials. */
function useCredentialDraft(initialType: string) {
  const [type, setType] = useState(initialType);
  const [data, setData] = useState<Record<string, string>>({});
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState("");

  /** send hands the filled-in data to call; on an error answer it keeps the
   * problems (shown under their fields) or the message, and answers false. */
  async function send(call: (type: string, data: Record<string, string>) => Promise<unknown>): Promise<boolean> {
    setProblems([]);
    setError("");
    try {
      await call(type, Object.fromEntries(Object.entries(data).filter(([, v]) => v !== "")));
      setData({});
      return true;
    } catch (err) {
      if (err instanceof ApiError) {
        setProblems(err.problems);
        setError(err.problems.length ? "" : err.message);
      } else setError(errorMessage(err));
      return false;
    }
  }

  return {
    type,
    data,
    error,
    send,
    /** Another type has other fields: what was typed for the old one goes. */
    changeType: (next: string) => {
      setType(next);
      setData({});
    },
    setField: (name: string, value: string) => setData((d) => ({ ...d, [name]: value })),
    problemOf: (field: string) =>
      problems
        .filter((p) => p.field === field)
        .map((p) => p.message)
        .join("; "),
  };
}

type CredentialDraft = ReturnType<typeof useCredentialDraft>;

/** CredentialFields draws a credential's type picker and the fields of that
 * type's data (secret ones as password inputs), each with its problems. */
function CredentialFields({ id, types, draft }: { id: string; types: CredentialType[]; draft: CredentialDraft }) {
  const spec = types.find((t) => t.name === draft.type);
  return (
    <>
      <label htmlFor={`${id}-type`}>Type</label>
      <select id={`${id}-type`} value={draft.type} onChange={(e) => draft.changeType(e.target.value)}>
        {types.map((t) => (
          <option key={t.name} value={t.name}>
            {t.title}
          </option>
        ))}
        {!spec && draft.type && <option value={draft.type}>{draft.type}</option>}
      </select>
      {spec?.fields.map((f) => {
        const problem = draft.problemOf(`data.${f.name}`);
        return (
          <span key={f.name} className="field">
            <label htmlFor={`${id}-${f.name}`}>{f.label}</label>
            <input
              id={`${id}-${f.name}`}
              type={f.secret ? "password" : "text"}
              autoComplete={f.secret ? "new-password" : "off"}
              value={draft.data[f.name] ?? ""}
              placeholder={f.placeholder}
              aria-invalid={problem ? true : undefined}
              aria-describedby={problem ? `${id}-${f.name}-problem` : undefined}
              onChange={(e) => draft.setField(f.name, e.target.value)}
            />
            {problem && (
              <small id={`${id}-${f.name}-problem`} className="problem">
                {problem}
              </small>
            )}
          </span>
        );
      })}
      {draft.problemOf("data") && <small className="problem">{draft.problemOf("data")}</small>}
    </>
  );
}

/** NewCredential stores a credential of one of the types; onCreated hears its name. */
export function NewCredential({ client, types, onCreated }: { client: Client; types: CredentialType[]; onCreated?: (name: string) => void }) {
  const queries = useQueryClient();
  const id = useId();
  const [name, setName] = useState("");
  const draft = useCredentialDraft(types[0]?.name ?? "");

  async function submit(event: FormEvent) {
    event.preventDefault();
    const stored = name.trim();
    if (!(await draft.send((type, data) => client.createCredential(stored, type, data)))) return;
    setName("");
    await queries.invalidateQueries({ queryKey: ["credentials"] });
    onCreated?.(stored);
  }

  return (
    <form aria-label="New credential" onSubmit={submit} className="credential-form">
      <label htmlFor={`${id}-name`}>Name</label>
      <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} placeholder="stripe-signing" required />
      {draft.problemOf("name") && <small className="problem">{draft.problemOf("name")}</small>}
      <CredentialFields id={id} types={types} draft={draft} />
      <button type="submit">Store credential</button>
      {draft.error && <p role="alert">{draft.error}</p>}
    </form>
  );
}

/** EditCredential replaces a credential's data, and may change its type;
 * the name stays. onDone hears whether it was saved. */
export function EditCredential({
  client,
  credential,
  types,
  onDone,
}: {
  client: Client;
  credential: Credential;
  types: CredentialType[];
  onDone: (updated: boolean) => void;
}) {
  const queries = useQueryClient();
  const id = useId();
  const draft = useCredentialDraft(credential.type);
  const form = useRef<HTMLFormElement>(null);

  // Opening the form takes the keyboard to its first new value.
  useEffect(() => {
    const first = form.current?.querySelector<HTMLElement>(`.field input`) ?? form.current?.querySelector<HTMLElement>("select");
    first?.focus();
  }, []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!(await draft.send((type, data) => client.updateCredential(credential.name, type, data)))) return;
    await queries.invalidateQueries({ queryKey: ["credentials"] });
    onDone(true);
  }

  return (
    <form
      ref={form}
      aria-label={`Edit credential ${credential.name}`}
      aria-describedby={`${id}-write-only`}
      onSubmit={submit}
      onKeyDown={(e) => {
        if (e.key === "Escape") onDone(false);
      }}
      className="credential-form credential-edit"
    >
      <p className="help" id={`${id}-write-only`}>
        Editing <code>{credential.name}</code>. Its current values are not shown: credential data is write-only. Enter the new values; saving
        replaces all of its data.
      </p>
      <CredentialFields id={id} types={types} draft={draft} />
      <button type="submit">Save credential</button>
      <button type="button" onClick={() => onDone(false)}>
        Cancel
      </button>
      {draft.error && <p role="alert">{draft.error}</p>}
    </form>
  );
}
