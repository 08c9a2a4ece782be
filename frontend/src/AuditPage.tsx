import { useInfiniteQuery } from "@tanstack/react-query";
import { Fragment } from "react";
import { errorMessage, type AuditEvent, type Client } from "./api";
import { utc } from "./RunsPage";
import { when } from "./StepView";

/** What the audit log is narrowed to; "" for any. since and until are
 * datetime-local values, the reader's local time. The page's URL holds
 * them (?action=&actor=&since=&until=). */
export type AuditFilters = { action: string; actor: string; since: string; until: string };

/** The actions to filter by: a group (a prefix ending in ".") then its
 * actions. */
const actionGroups: [string, string[]][] = [
  ["flow.", ["flow.created", "flow.updated", "flow.activated", "flow.deactivated", "flow.deleted"]],
  ["credential.", ["credential.created", "credential.updated", "credential.deleted", "credential.used"]],
  ["user.", ["user.created", "user.invited", "user.joined", "user.updated", "user.removed", "user.password_changed"]],
  ["invitation.", ["invitation.revoked"]],
  ["token.", ["token.created", "token.revoked"]],
  ["login.", ["login", "login.failed", "logout", "session.revoked"]],
];

/** summary says an event's detail in one line. */
export function summary(detail: AuditEvent["detail"]): string {
  if (!detail) return "";
  return Object.entries(detail)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(", ");
}

/** who names an event's actor. */
function who(e: AuditEvent): string {
  const name = e.actor.name || e.actor.id || "";
  if (e.actor.kind === "admin") return "admin token";
  if (e.actor.kind === "token") return `${name} (token)`;
  if (e.actor.kind === "system") return "Hookflow";
  return name || e.actor.kind;
}

// AuditPage is the audit log, newest first, a page at a time, narrowed by
// action, actor and time.
export function AuditPage({ client, filters, onFilters }: { client: Client; filters: AuditFilters; onFilters: (f: AuditFilters) => void }) {
  const set = (change: Partial<AuditFilters>) => onFilters({ ...filters, ...change });
  const since = utc(filters.since);
  const until = utc(filters.until);
  const actor = filters.actor.trim();
  const events = useInfiniteQuery({
    queryKey: ["audit", filters.action, actor, since, until],
    queryFn: ({ pageParam }) =>
      client.listAudit({ action: filters.action || undefined, actor: actor || undefined, since, until, cursor: pageParam || undefined }),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor || undefined,
  });
  const list = events.data?.pages.flatMap((p) => p.events) ?? [];
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <form aria-label="Filter audit log" onSubmit={(e) => e.preventDefault()}>
        <label htmlFor="audit-action">Action</label>
        <select id="audit-action" value={filters.action} onChange={(e) => set({ action: e.target.value })}>
          <option value="">Any action</option>
          {actionGroups.map(([group, actions]) => (
            <optgroup key={group} label={group}>
              {group !== "login." && <option value={group}>every {group}*</option>}
              {actions.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
        <label htmlFor="audit-actor">Actor</label>
        <input id="audit-actor" value={filters.actor} placeholder="email or token name" onChange={(e) => set({ actor: e.target.value })} />
        {(["since", "until"] as const).map((bound) => (
          <Fragment key={bound}>
            <label htmlFor={`audit-${bound}`}>{bound === "since" ? "From" : "To"}</label>
            <input
              id={`audit-${bound}`}
              type="datetime-local"
              step={1}
              value={filters[bound]}
              aria-describedby="audit-zone"
              onChange={(e) => set({ [bound]: e.target.value })}
            />
          </Fragment>
        ))}
        <small className="help" id="audit-zone">
          times in {zone}
        </small>
      </form>
      {events.isPending && <p aria-busy="true">Loading the audit log…</p>}
      {events.isError && <p role="alert">{errorMessage(events.error)}</p>}
      {events.isSuccess && list.length === 0 && <p>No events match.</p>}
      {list.length > 0 && (
        <table aria-label="Audit log">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">IP</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {list.map((e) => (
              <tr key={e.id} data-action={e.action}>
                <td>{when(e.at)}</td>
                <td>{who(e)}</td>
                <td className="mono">{e.action}</td>
                <td>{e.target ? `${e.target.kind ?? ""} ${e.target.name || e.target.id || ""}`.trim() : ""}</td>
                <td className="mono">{e.ip}</td>
                <td>
                  <small>{summary(e.detail)}</small>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {events.hasNextPage && (
        <button type="button" onClick={() => void events.fetchNextPage()} disabled={events.isFetchingNextPage}>
          Load more
        </button>
      )}
    </section>
  );
}
