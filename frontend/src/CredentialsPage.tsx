import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ApiError, errorMessage, type Client, type CredentialType, type Problem } from "./api";

// CredentialsPage lists the credentials with the flows that use each, and
// stores new ones. Their data is write-only: the form sends it, nothing
// ever shows it again.
export function CredentialsPage({ client }: { client: Client }) {
  const queries = useQueryClient();
  const list = useQuery({ queryKey: ["credentials"], queryFn: () => client.listCredentials() });
  const types = useQuery({ queryKey: ["credential-types"], queryFn: () => client.listCredentialTypes(), staleTime: Infinity });
  const [error, setError] = useState("");
  const remove = useMutation({
    mutationFn: (name: string) => client.deleteCredential(name),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["credentials"] }),
    onError: (err) => setError(errorMessage(err)),
  });

  return (
    <section aria-labelledby="credentials-title">
      <h2 id="credentials-title">Credentials</h2>
      {types.data && <NewCredential client={client} types={types.data} />}
      {error && <p role="alert">{error}</p>}
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
              <tr key={c.name}>
                <td className="mono">{c.name}</td>
                <td>{c.type}</td>
                <td>{c.used_by.length === 0 ? "no flow" : c.used_by.map((f) => f.name).join(", ")}</td>
                <td>
                  <button
                    type="button"
                    onClick={() => {
                      const users = c.used_by.length ? ` ${c.used_by.length} flow(s) use it and will fail until it is replaced.` : "";
                      if (window.confirm(`Delete the credential "${c.name}"?${users}`)) remove.mutate(c.name);
                    }}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** NewCredential stores a credential of one of the types; onCreated hears its name. */
export function NewCredential({ client, types, onCreated }: { client: Client; types: CredentialType[]; onCreated?: (name: string) => void }) {
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const [type, setType] = useState(types[0]?.name ?? "");
  const [data, setData] = useState<Record<string, string>>({});
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState("");
  const spec = types.find((t) => t.name === type);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setProblems([]);
    setError("");
    const body = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== ""));
    try {
      await client.createCredential(name.trim(), type, body);
      setName("");
      setData({});
      await queries.invalidateQueries({ queryKey: ["credentials"] });
      onCreated?.(name.trim());
    } catch (err) {
      if (err instanceof ApiError) {
        setProblems(err.problems);
        setError(err.problems.length ? "" : err.message);
      } else setError(String(err));
    }
  }

  const problemOf = (field: string) => problems.filter((p) => p.field === field).map((p) => p.message).join("; ");
  return (
    <form aria-label="New credential" onSubmit={submit} className="credential-form">
      <label htmlFor="cred-name">Name</label>
      <input id="cred-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="stripe-signing" required />
      {problemOf("name") && <small className="problem">{problemOf("name")}</small>}
      <label htmlFor="cred-type">Type</label>
      <select
        id="cred-type"
        value={type}
        onChange={(e) => {
          setType(e.target.value);
          setData({});
        }}
      >
        {types.map((t) => (
          <option key={t.name} value={t.name}>
            {t.title}
          </option>
        ))}
      </select>
      {spec?.fields.map((f) => (
        <span key={f.name} className="field">
          <label htmlFor={`cred-${f.name}`}>{f.label}</label>
          <input
            id={`cred-${f.name}`}
            type={f.secret ? "password" : "text"}
            autoComplete="off"
            value={data[f.name] ?? ""}
            placeholder={f.placeholder}
            onChange={(e) => setData({ ...data, [f.name]: e.target.value })}
          />
          {problemOf(`data.${f.name}`) && <small className="problem">{problemOf(`data.${f.name}`)}</small>}
        </span>
      ))}
      {problemOf("data") && <small className="problem">{problemOf("data")}</small>}
      <button type="submit">Store credential</button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}
