#!/usr/bin/env bash
# Runs the interop suite: kvstash against vLLM's own Python code (block hashes, KV
# events), once per vLLM version, each in its venv (setup_venv.sh makes them).
#
#   tests/interop/run.sh                  # everything
#   tests/interop/run.sh -k block_hash    # extra arguments go to pytest
#
# Environment:
#   KVSTASH_BUILD_DIR     build dir with tools/kvstash and service/kvstashd
#                         (default build/default; relative to the repo root)
#   KVSTASH_INTEROP_VLLM  vLLM versions to test (default "0.33.0 0.23.0")
#   KVSTASH_INTEROP_VENV  where the venvs live (default tests/interop/.venv)
#
# Exit status 0 when every run passed. The last line is a one-line summary.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${KVSTASH_BUILD_DIR:-build/default}"
[[ "$build" = /* ]] || build="$repo/$build"
versions="${KVSTASH_INTEROP_VLLM:-0.33.0 0.23.0}"
venv_root="${KVSTASH_INTEROP_VENV:-$here/.venv}"

die() {
  echo "run.sh: error: $*" >&2
  echo "interop: not run ($*)"
  exit 2
}

for bin in tools/kvstash service/kvstashd; do
  [[ -x "$build/$bin" ]] ||
    die "no $build/$bin; build it (cmake --build $build --target kvstash kvstashd)" \
      "or set KVSTASH_BUILD_DIR"
done

KVSTASH_INTEROP_VLLM="$versions" KVSTASH_INTEROP_VENV="$venv_root" "$here/setup_venv.sh" ||
  die "setup_venv.sh failed"

logs="$(mktemp -d "${TMPDIR:-/tmp}/kvstash-interop.XXXXXX")"
summary=()
status=0
for v in $versions; do
  echo "=== vllm $v (kvstash from $build)"
  log="$logs/vllm-$v.log"
  # The tests set PYTHONHASHSEED themselves where vLLM reads it; keep the caller's
  # environment from changing vLLM's hashing or its event hash format.
  (cd "$here" && env -u PYTHONHASHSEED -u VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES \
    KVSTASH_BUILD_DIR="$build" TORCH_CPP_LOG_LEVEL=ERROR \
    "$venv_root/vllm-$v/bin/python" -m pytest "$@" test_*.py) 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # pytest's closing line, e.g. "==== 3 failed, 40 passed, 3 xfailed in 41.2s ====".
  outcomes='passed|failed|errors?|skipped|deselected|xfailed|xpassed'
  line="$(grep -E "^(=+ )?([0-9]+ ($outcomes)|no tests ran)" "$log" | tail -n 1 |
    sed -E 's/^=+ //; s/ =+$//; s/ in [0-9.]+s( \([0-9:]+\))?$//')"
  summary+=("vllm $v: ${line:-pytest exited $rc}")
  [[ $rc -eq 0 ]] || status=1
done

result="$([[ $status -eq 0 ]] && echo PASS || echo FAIL)"
echo "interop $result: $(IFS=';'; echo "${summary[*]}" | sed 's/;/; /g') (logs in $logs)"
exit $status
