#!/bin/sh
# Starts (or resumes) the default model's training in the background unless it is already running.
#   tools/train/launch.sh [run-name] [extra train.py options...]
# Log: ~/.cache/kvmerger-train/<run-name>/train.log (stdout.log has the same plus any traceback).
set -e
run="${1:-default}"
[ $# -gt 0 ] && shift
dir="${KVMERGER_TRAIN_DIR:-$HOME/.cache/kvmerger-train}/$run"
mkdir -p "$dir"
if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null && grep -q train.py "/proc/$(cat "$dir/pid")/cmdline" 2>/dev/null; then
  echo "already running: pid $(cat "$dir/pid")"; tail -n 3 "$dir/train.log"; exit 0
fi
cd "$(dirname "$0")/../.."
nohup nice -n 10 /usr/bin/python3 tools/train/train.py --run-name "$run" --out "$dir" "$@" >> "$dir/stdout.log" 2>&1 &
echo "started pid $! (log: $dir/train.log)"
