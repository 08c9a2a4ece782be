import { useState, type FormEvent } from "react";
import { ApiError, Client, type FlowSummary } from "./api";

// A placeholder until the editor lands: sign in with the token the server
// printed and see the flows.
export function App() {
  const [token, setToken] = useState("");
  const [flows, setFlows] = useState<FlowSummary[] | null>(null);
  const [error, setError] = useState("");

  async function signIn(event: FormEvent) {
    event.preventDefault();
    setError("");
    try {
      setFlows(await new Client({ token }).listFlows());
    } catch (err) {
      setFlows(null);
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }

  return (
    <main>
      <h1>Hookflow</h1>
      <p>The flow editor is on its way. Meanwhile, sign in to list your flows.</p>
      <form onSubmit={signIn}>
        <label htmlFor="token">Login token</label>{" "}
        <input id="token" type="password" value={token} onChange={(e) => setToken(e.target.value)} />{" "}
        <button type="submit">Sign in</button>
      </form>
      {error && <p role="alert">{error}</p>}
      {flows && (
        <ul>
          {flows.length === 0 && <li>No flows yet.</li>}
          {flows.map((f) => (
            <li key={f.id}>
              {f.name} (version {f.version}, {f.active ? "active" : "inactive"})
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
