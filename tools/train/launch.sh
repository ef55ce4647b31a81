#!/bin/sh
# Starts (or resumes) a training run in the background unless it is already running.
#   tools/train/launch.sh [run-name] [extra train.py options...]
# The extra options are saved in <run folder>/launch-args; a later `launch.sh <run-name>` without options reuses
# them, so a run resumes with the options it was started with. The process is detached (setsid, nohup), so it
# survives the shell that started it.
# Log: ~/.cache/kvmerger-train/<run-name>/train.log (stdout.log has the same plus any traceback).
set -e
run="${1:-default}"
[ $# -gt 0 ] && shift
dir="${KVMERGER_TRAIN_DIR:-$HOME/.cache/kvmerger-train}/$run"
mkdir -p "$dir"
if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null && grep -q train.py "/proc/$(cat "$dir/pid")/cmdline" 2>/dev/null; then
  echo "already running: pid $(cat "$dir/pid")"; tail -n 3 "$dir/train.log"; exit 0
fi
if [ $# -gt 0 ]; then
  printf '%s\n' "$@" > "$dir/launch-args"
elif [ -f "$dir/launch-args" ]; then
  # shellcheck disable=SC2046
  set -- $(cat "$dir/launch-args")
  echo "options from $dir/launch-args: $*"
fi
cd "$(dirname "$0")/../.."
detach=""
command -v setsid >/dev/null 2>&1 && detach="setsid"
$detach nohup nice -n "${KVMERGER_TRAIN_NICE:-10}" /usr/bin/python3 tools/train/train.py --run-name "$run" --out "$dir" "$@" \
  >> "$dir/stdout.log" 2>&1 < /dev/null &
echo "started pid $! (log: $dir/train.log)"
