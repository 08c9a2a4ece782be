#!/usr/bin/env bash
# Load benchmark of the webhook ingress: accepted webhooks per second and
# latency at concurrency 1, 16 and 64, respond "immediately", on SQLite and
# on Postgres, beside a bare fiber handler that only reads the body.
# Every run is bounded: DURATION seconds (default 10) per measurement.
#
#   bench/load.sh                     # both databases and the bare handler
#   DATABASES=sqlite bench/load.sh    # SQLite only
#
# Postgres: TEST_DATABASE_URL, or the server at 127.0.0.1:5432 (database test).
# Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
DATABASES=${DATABASES:-"sqlite postgres"}
CONCURRENCY=${CONCURRENCY:-"1 16 64"}
PG=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
TOKEN=hf_load_benchmark
PORT=18091

. bench/common.sh

CGO_ENABLED=0 go build -o "$work/hookflow" ./cmd/hookflow
CGO_ENABLED=0 go build -o "$work/bare" ./bench/bare


# measure NAME URL: one line per concurrency: name, c, requests/s, p50, p99.
measure() {
  local name=$1 url=$2
  for c in $CONCURRENCY; do
    local threads=$(( c < 2 ? 1 : 2 ))
    local out
    out=$(wrk -t"$threads" -c"$c" -d"${DURATION}s" --latency -s bench/load.lua "$url")
    local rps p50 p99 non2xx
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "$rps" "$p50" "$p99" "${non2xx:-0}"
  done
}

# serve DB: start hookflow on a fresh database; the trigger URL goes to
# $work/url. (Not a $(…) subshell: the server's pid must reach pids.)
serve() {
  local db=$1 args=(--addr "127.0.0.1:$PORT" --admin-token "$TOKEN" --log-level error --data-dir "$work/data-$db")
  if [ "$db" = postgres ]; then
    local schema="load_$RANDOM$RANDOM"
    psql -q "${PG%%\?*}" -c "CREATE SCHEMA $schema" >/dev/null
    schemas+=("$schema")
    args+=(--database-url "${PG}&search_path=$schema")
  fi
  "$work/hookflow" serve "${args[@]}" >"$work/hookflow-$db.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$PORT/readyz"
  local flow id url
  flow=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/flows" -H "Authorization: Bearer $TOKEN" -d '{"name": "load",
    "nodes": [{"id": "hook", "type": "trigger.webhook"},
              {"id": "amount", "type": "transform", "params": {"fields": {"usd": "trigger.body.data.object.amount / 100"}}}],
    "edges": [{"from": "hook", "to": "amount"}]}')
  id=$(sed -E 's/.*"id":"([^"]+)".*"version".*/\1/' <<<"$flow")
  url=$(sed -E 's/.*"url":"([^"]+)".*/\1/' <<<"$flow")
  curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/flows/$id/activate" -H "Authorization: Bearer $TOKEN" >/dev/null
  echo "$url" >"$work/url"
}

results="$work/results.tsv"
for db in $DATABASES; do
  serve "$db"
  measure "hookflow ($db)" "$(cat "$work/url")" | tee -a "$results"
  stop_last
done

"$work/bare" -addr "127.0.0.1:$PORT" &
pids+=($!)
wait_for "http://127.0.0.1:$PORT/hooks/x" || true
measure "bare fiber" "http://127.0.0.1:$PORT/hooks/x" | tee -a "$results"

echo
echo "| server | concurrency | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}' "$results"
