import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { errorMessage, type ApiToken, type Client, type NewApiToken, type Permission } from "./api";
import { permissions, useAccess } from "./access";
import { when } from "./StepView";

// TokensPage lists API tokens (the caller's own; everyone's too with
// users:read), revokes them, and makes new ones for the caller, narrowed to
// some of their permissions. A token is shown once, when made.
export function TokensPage({ client }: { client: Client }) {
  const { session, can } = useAccess();
  const queries = useQueryClient();
  const hasUser = session === null || session.user !== null;
  // The admin token has no tokens of its own: it sees everyone's.
  const [all, setAll] = useState(!hasUser);
  const tokens = useQuery({ queryKey: ["tokens", all], queryFn: () => client.listTokens(all) });
  const [error, setError] = useState("");
  const revoke = useMutation({
    mutationFn: (t: ApiToken) => client.revokeToken(t.id),
    onMutate: () => setError(""),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["tokens"] }),
    onError: (err) => setError(errorMessage(err)),
  });
  const mayRevoke = (t: ApiToken) => t.user_id === session?.user?.id || can("users:write");

  return (
    <section aria-labelledby="tokens-title">
      <h2 id="tokens-title">API tokens</h2>
      <p className="help">
        A token lets a script use the API as you (<code>Authorization: Bearer hf_…</code>), with your permissions or fewer.
      </p>
      {hasUser ? (
        <NewToken client={client} granted={session?.permissions ?? permissions} />
      ) : (
        <p>
          API tokens belong to users: you are logged in with the admin token, which belongs to no user. Log in as a user to make a token.
        </p>
      )}
      {can("users:read") && hasUser && (
        <label className="check">
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> Everyone's tokens
        </label>
      )}
      {error && <p role="alert">{error}</p>}
      {tokens.isPending && <p aria-busy="true">Loading tokens…</p>}
      {tokens.isError && <p role="alert">{errorMessage(tokens.error)}</p>}
      {tokens.data && tokens.data.length === 0 && <p>No tokens yet.</p>}
      {tokens.data && tokens.data.length > 0 && (
        <table aria-label="Tokens">
          <thead>
            <tr>
              <th scope="col">Name</th>
              {all && <th scope="col">User</th>}
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                {all && <td>{t.user_email}</td>}
                <td>{t.scopes.length === 0 ? "all of the user's permissions" : t.scopes.join(", ")}</td>
                <td>{when(t.created_at)}</td>
                <td>{t.expires_at ? when(t.expires_at) : "never"}</td>
                <td>{t.last_used_at ? when(t.last_used_at) : "never"}</td>
                <td>
                  <button
                    type="button"
                    aria-label={`Revoke ${t.name}`}
                    disabled={!mayRevoke(t)}
                    title={mayRevoke(t) ? undefined : "Revoking another user's token needs the permission users:write."}
                    onClick={() => {
                      if (window.confirm(`Revoke the token "${t.name}"? Scripts using it stop working at once.`)) revoke.mutate(t);
                    }}
                  >
                    Revoke
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

const expiries: [number, string][] = [
  [30, "30 days"],
  [90, "90 days"],
  [365, "365 days"],
  [0, "Never"],
];

/** NewToken makes a token for the caller with some of the permissions they
 * have, and shows it once. */
function NewToken({ client, granted }: { client: Client; granted: Permission[] }) {
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Permission[]>([]);
  const [days, setDays] = useState(90);
  const [made, setMade] = useState<NewApiToken | null>(null);
  const [error, setError] = useState("");
  const offered = permissions.filter((p) => granted.includes(p));

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError("");
    try {
      setMade(await client.createToken({ name: name.trim(), scopes: offered.filter((p) => scopes.includes(p)), expires_in_days: days }));
      setName("");
      setScopes([]);
      void queries.invalidateQueries({ queryKey: ["tokens"] });
    } catch (err) {
      setMade(null);
      setError(errorMessage(err));
    }
  }

  return (
    <div className="new-token">
      <form aria-label="New token" onSubmit={submit}>
        <label htmlFor="token-name">Name</label>{" "}
        <input id="token-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="deploy script" required />{" "}
        <label htmlFor="token-expiry">Expires after</label>{" "}
        <select id="token-expiry" value={days} onChange={(e) => setDays(Number(e.target.value))}>
          {expiries.map(([d, label]) => (
            <option key={d} value={d}>
              {label}
            </option>
          ))}
        </select>
        <fieldset>
          <legend>Scopes (none checked: all of your permissions)</legend>
          {offered.map((p) => (
            <label key={p} className="check">
              <input
                type="checkbox"
                checked={scopes.includes(p)}
                onChange={(e) => setScopes(e.target.checked ? [...scopes, p] : scopes.filter((s) => s !== p))}
              />{" "}
              {p}
            </label>
          ))}
        </fieldset>
        <button type="submit">Create token</button>
        {error && <p role="alert">{error}</p>}
      </form>
      {made && (
        <div role="status" aria-label="New token value" className="shown-once">
          <p>The token "{made.name}" is shown only this once: copy it now. Hookflow keeps only its hash.</p>
          <input aria-label="Token" className="mono" readOnly value={made.token} onFocus={(e) => e.target.select()} size={60} />{" "}
          <button type="button" onClick={() => void navigator.clipboard?.writeText(made.token)}>
            Copy token
          </button>{" "}
          <button type="button" onClick={() => setMade(null)}>
            Done
          </button>
        </div>
      )}
    </div>
  );
}
