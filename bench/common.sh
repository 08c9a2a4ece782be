# Shared by the load scripts (sourced): a work directory, the servers and
# Postgres schemas they start, stopped and dropped on exit, and waiting for
# a server to answer. Set PG first.

command -v wrk >/dev/null || { echo "$(basename "$0"): wrk is missing (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d)
pids=()
schemas=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for schema in "${schemas[@]}"; do psql -q "${PG%%\?*}" -c "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for URL: until it answers 2xx, for up to 30 s.
wait_for() { for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "not up: $1" >&2; return 1; }

# stop_last: stop the server started last.
stop_last() {
  local last=$(( ${#pids[@]} - 1 ))
  kill "${pids[$last]}" 2>/dev/null || true
  wait "${pids[$last]}" 2>/dev/null || true
  pids=("${pids[@]:0:$last}")
}
