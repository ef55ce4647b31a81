#!/usr/bin/env bash
# Builds native llama.cpp (llama-bench, llama-quantize, llama-cli, llama-server) from the source that node-llama-cpp
# ships in its npm package (node_modules/node-llama-cpp/llama/gitRelease.bundle, a git bundle), once, into a cache
# folder that `kvmerger bench` and the tests find (src/bench/native-llama-cpp.ts).
#
#   npm run build:llama-cpp            # or: bash scripts/build-llama-cpp.sh
#
# Folder: $KVMERGER_LLAMA_CPP_DIR, else ~/.cache/kvmerger/llama.cpp/<commit of the bundle, 12 hex digits>.
# The binaries land in <folder>/bin; <folder>/build-info.json says what was built from what.
# Idempotent: when every binary is there already it says so and exits. Needs cmake, ninja and g++ (Debian:
# apt-get install cmake ninja-build g++ git). About 6 minutes on 2 cores; runs under `nice`.
# Env: KVMERGER_LLAMA_CPP_JOBS (parallel compile jobs, default: the number of cores),
#      KVMERGER_LLAMA_CPP_NATIVE=OFF (portable build instead of -DGGML_NATIVE=ON).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="$here/node_modules/node-llama-cpp/llama/gitRelease.bundle"
targets=(llama-bench llama-quantize llama-cli llama-server)

if [[ ! -f "$bundle" ]]; then
  echo "build-llama-cpp: $bundle not found; run 'npm install' first (node-llama-cpp is a dev dependency)." >&2
  exit 1
fi

missing=()
for tool in git cmake ninja g++; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
  echo "build-llama-cpp: missing ${missing[*]}. On Debian/Ubuntu: sudo apt-get install -y git cmake ninja-build g++" >&2
  exit 1
fi

commit="$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" { print $1 }' | head -n 1)"
[[ -n "$commit" ]] || commit="$(git bundle list-heads "$bundle" | awk '{ print $1 }' | head -n 1)"
if [[ -z "$commit" ]]; then
  echo "build-llama-cpp: cannot read a commit from $bundle" >&2
  exit 1
fi
short="${commit:0:12}"
dir="${KVMERGER_LLAMA_CPP_DIR:-$HOME/.cache/kvmerger/llama.cpp/$short}"
bin="$dir/bin"

all_built() {
  for t in "${targets[@]}"; do [[ -x "$bin/$t" ]] || return 1; done
  return 0
}

if all_built; then
  echo "build-llama-cpp: already built in $bin (llama.cpp $short); nothing to do."
  exit 0
fi

mkdir -p "$dir"
# One build at a time per folder.
exec 9>"$dir/.build.lock"
if command -v flock >/dev/null 2>&1; then
  if ! flock -n 9; then
    echo "build-llama-cpp: another build holds $dir/.build.lock; waiting for it..."
    flock 9
  fi
  if all_built; then
    echo "build-llama-cpp: already built in $bin (llama.cpp $short); nothing to do."
    exit 0
  fi
fi

src="$dir/src"
if [[ ! -d "$src/.git" ]] || [[ "$(git -C "$src" rev-parse HEAD 2>/dev/null)" != "$commit" ]]; then
  rm -rf "$src"
  echo "build-llama-cpp: cloning $bundle ($short) into $src"
  git -c advice.detachedHead=false clone --quiet "$bundle" "$src"
  git -c advice.detachedHead=false -C "$src" checkout --quiet "$commit"
fi

jobs="${KVMERGER_LLAMA_CPP_JOBS:-$(nproc 2>/dev/null || echo 2)}"
native="${KVMERGER_LLAMA_CPP_NATIVE:-ON}"
build="$dir/build"
echo "build-llama-cpp: configuring in $build (GGML_NATIVE=$native, static, Release)"
nice -n 10 cmake -S "$src" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE="$native" \
  -DLLAMA_CURL=OFF \
  -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=ON \
  >"$dir/configure.log" 2>&1 || {
  echo "build-llama-cpp: cmake configure failed; see $dir/configure.log" >&2
  tail -n 20 "$dir/configure.log" >&2
  exit 1
}

echo "build-llama-cpp: compiling ${targets[*]} with $jobs jobs (several minutes; log: $dir/build.log)"
start=$(date +%s)
nice -n 10 ninja -C "$build" -j "$jobs" "${targets[@]}" >"$dir/build.log" 2>&1 || {
  echo "build-llama-cpp: build failed; see $dir/build.log" >&2
  tail -n 30 "$dir/build.log" >&2
  exit 1
}

mkdir -p "$bin"
for t in "${targets[@]}"; do
  cp -f "$build/bin/$t" "$bin/$t.tmp"
  mv -f "$bin/$t.tmp" "$bin/$t"
done
secs=$(($(date +%s) - start))
tag="$(sed -n 's/.*"tag"[^"]*"\([^"]*\)".*/\1/p' "$here/node_modules/node-llama-cpp/llama/llama.cpp.info.json" 2>/dev/null | head -n 1)"
build_number="$("$bin/llama-bench" --version 2>&1 | sed -n 's/^version: \([0-9]*\).*/\1/p' | head -n 1 || true)"
cat >"$dir/build-info.json" <<EOF
{
  "commit": "$commit",
  "buildNumber": "${build_number:-unknown}",
  "nodeLlamaCppTag": "${tag:-unknown}",
  "ggmlNative": "$native",
  "buildType": "Release",
  "targets": ["llama-bench", "llama-quantize", "llama-cli", "llama-server"],
  "compiler": "$(g++ --version | head -n 1)",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "buildSeconds": $secs
}
EOF
echo "build-llama-cpp: built ${targets[*]} in ${secs}s into $bin"
