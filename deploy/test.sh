#!/usr/bin/env bash
# The whole test suite: install dependencies, build the default preset
# (RelWithDebInfo, CUDA when nvcc exists) and run every test, then build and
# run the sanitizer presets (ASan+UBSan, TSan; clang, CPU only). GPU tests skip
# with a clear message on machines without a GPU. Ends with one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash deploy/install-deps.sh || exit 1

passed=0
failed=0
status=0
run_preset() {  # preset [ctest args...]
  local preset=$1
  shift
  echo "== [$preset] build =="
  if ! bash deploy/build.sh "$preset" 2>&1 | tail -n 3; then
    echo "== [$preset] BUILD FAILED =="
    status=1
    failed=$((failed + 1))
    return
  fi
  echo "== [$preset] test =="
  local log
  log=$(mktemp)
  ctest --preset "$preset" -j "$(nproc)" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    local total fails
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    fails=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
    passed=$((passed + total - fails))
    failed=$((failed + fails))
  fi
  [ "$rc" -eq 0 ] || status=1
  rm -f "$log"
}

run_preset default
if [ "${KVSTASH_SKIP_SANITIZERS:-0}" != "1" ]; then
  run_preset asan -LE 'gpu|slow'
  run_preset tsan -L 'tiers|common|concurrency'
fi

echo "kvstash test suite: $(( $(date +%s) - start ))s"
echo "${passed} passed, ${failed} failed"
exit $status
