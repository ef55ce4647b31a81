#!/usr/bin/env bash
# Measures `kvmerger eval --queue` with 1, 2 and 4 worker processes against a local run of the same grid
# (docs/grid-runner.md). Needs redis-server and ../shared/data/models/stories260K.bin. Usage: scripts/queue-speedup.sh [WORKERS...]
set -euo pipefail
cd "$(dirname "$0")/.."
M=${KVMERGER_SHARED_DATA:-../shared/data}/models
tmp="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" --daemonize yes --pidfile "$tmp/redis.pid" >/dev/null
trap 'kill "$(cat "$tmp/redis.pid")" 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 0.5
K=(node --import tsx src/cli/main.ts)
GRID=(--model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --tasks ppl-stream,fidelity --lengths 250,350 --samples 4
  --task-option fidelity.k=128 --methods full,h2o,tova,streaming --budgets 0.5,0.35 --threads 1 -q)
t0=$(date +%s.%N); "${K[@]}" eval "${GRID[@]}" --out "$tmp/local" > "$tmp/local.txt"; t1=$(date +%s.%N)
cells=$(wc -l < "$tmp/local/results.jsonl")
printf 'local (no queue): %d cells, %.1f s (model load included), %s\n' "$cells" "$(echo "$t1 - $t0" | bc)" "$(grep -o '[0-9]* prefill(s)' "$tmp/local.txt")"
for n in "${@:-1 2 4}"; do
  for n1 in $n; do
    redis-cli -p "$port" flushall >/dev/null
    pids=()
    for i in $(seq 1 "$n1"); do
      "${K[@]}" worker --queue "redis://127.0.0.1:$port" --threads 1 --name "w$i" -q 2>"$tmp/w$i.log" &
      pids+=($!)
    done
    for i in $(seq 1 "$n1"); do until grep -qs "waiting for cells" "$tmp/w$i.log"; do sleep 0.1; done; done
    t0=$(date +%s.%N); "${K[@]}" eval "${GRID[@]}" --queue "redis://127.0.0.1:$port" --out "$tmp/q$n1" >/dev/null; t1=$(date +%s.%N)
    kill -TERM "${pids[@]}"
    wait "${pids[@]}" || true
    prefills=$(cat "$tmp"/w*.log | grep -o '[0-9]* prefill(s)' | awk '{s += $1} END {print s}')
    rm -f "$tmp"/w*.log
    printf '%d worker(s): %d cells, %.1f s (the coordinator: model load, plan, collect; workers connected beforehand), %s prefill(s)\n' \
      "$n1" "$(wc -l < "$tmp/q$n1/results.jsonl")" "$(echo "$t1 - $t0" | bc)" "$prefills"
  done
done
