#!/usr/bin/env bash
# Builds and runs the GPU codec checks on a CUDA machine, from the repo root:
#
#   bash tests/gpu/run.sh                 # build, test, benchmark
#   bash tests/gpu/run.sh --fetch-debs    # (networked Debian 12 box) download
#                                         # the build dependencies as .debs
#
# Steps: dependencies -> configure build/gpu (default preset values,
# CMAKE_CUDA_ARCHITECTURES=${KVSTASH_CUDA_ARCHS:-90}) -> build only the kernels,
# their CPU reference/oracle/emulation tests, the GPU tests (codec, device
# tier, device-tier blocks through kvstashd by CUDA IPC), kvstashd and
# kvstash_gpu_codec_bench -> nvidia-smi -> run the tests -> run the benchmark
# (table, then JSON). Logs are tee'd into $OUT when it is set. Exits non-zero
# when a test fails or a step breaks. See tests/gpu/README.md.
#
# Environment:
#   KVSTASH_CUDA_ARCHS      CMAKE_CUDA_ARCHITECTURES (default "90": H100/H200)
#   KVSTASH_GPU_BUILD_DIR   build directory (default build/gpu, made fresh)
#   KVSTASH_DEBS            directory of .deb files to use when the Debian -dev
#                           packages are not installed (default build/gpu-debs)
#   KVSTASH_BENCH_ARGS      extra kvstash_gpu_codec_bench flags (e.g. --mib=512)
#   OUT                     directory for logs (default build/gpu-logs)
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2
ROOT=$PWD
BUILD=${KVSTASH_GPU_BUILD_DIR:-build/gpu}
ARCHS=${KVSTASH_CUDA_ARCHS:-90}
DEBS=${KVSTASH_DEBS:-build/gpu-debs}
JOBS=$(nproc 2>/dev/null || echo 4)
LOGS=${OUT:-$ROOT/build/gpu-logs}
export PATH="$PATH:/usr/local/cuda/bin"

# Debian 12 packages the full configure needs (cmake/KvstashDeps.cmake,
# client/, tiers/), with their library dependencies; base libraries every
# Debian/Ubuntu system has (libc6, libstdc++6, ...) are left out.
DEV_PACKAGES=(libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev libxxhash-dev
  librocksdb-dev libssl-dev pkgconf libcapnp-dev capnproto libzmq3-dev libmsgpack-cxx-dev)
BASE_PACKAGES='^(libc6|libgcc-s1|libstdc\+\+6|gcc-12-base|libc-dev-bin|libc6-dev|linux-libc-dev|libcrypt1|libcrypt-dev|libnsl-dev|libnsl2|libtirpc.*|libgssapi.*|libkrb5.*|libk5crypto3|libcom-err2|libkeyutils1|zlib1g|debconf|perl-base|dpkg|tar|libselinux1|libpcre2-8-0|libzstd1|liblzma5|libbz2-1.0|libmd0|libbsd0|libaudit.*|libcap-ng0|libacl1|libattr1|libgmp10|libtinfo6|libssl3|openssl)$'

log() { echo "== run.sh: $*"; }

# Shows a step's output and keeps it in $LOGS/<name>.
keep() { tee "$LOGS/$1"; }

fetch_debs() {
  local dir=${1:-$DEBS}
  mkdir -p "$dir" || return 1
  local closure
  closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "${DEV_PACKAGES[@]}" 2>/dev/null |
    grep -v '^ ' | grep -v '^<' | sed 's/:amd64$//' | sort -u | grep -Ev "$BASE_PACKAGES")
  log "downloading $(echo "$closure" | wc -l) packages into $dir"
  (cd "$dir" && apt-get download $closure) || return 1
  du -sh "$dir"
}

# Unpacks $DEBS/*.deb into build/gpu-deps and points CMake, pkg-config and the
# loader there. Nothing is installed into the system.
use_debs() {
  local prefix=$ROOT/build/gpu-deps
  rm -rf "$prefix" && mkdir -p "$prefix" || return 1
  local deb debs
  debs=$(cd "$DEBS" && pwd) || return 1
  for deb in "$debs"/*.deb; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$prefix" || return 1
    else  # no dpkg: a .deb is an ar archive holding data.tar.*
      (tmp=$(mktemp -d) && cd "$tmp" && ar x "$deb" && tar -xf data.tar.* -C "$prefix" &&
        rm -rf "$tmp") || return 1
    fi
  done
  local lib=$prefix/usr/lib/x86_64-linux-gnu link
  # .pc files say prefix=/usr and some CMake configs name /usr/lib files:
  # point them into the unpacked tree.
  sed -i "s|^prefix=/usr|prefix=$prefix/usr|" "$lib"/pkgconfig/*.pc "$prefix"/usr/share/pkgconfig/*.pc \
    2>/dev/null
  grep -rl "/usr/lib/x86_64-linux-gnu/lib" "$lib/cmake" 2>/dev/null |
    xargs -r sed -i "s|/usr/lib/x86_64-linux-gnu/lib|$lib/lib|g"
  # -dev symlinks whose runtime library is a base package (libbz2.so ->
  # libbz2.so.1.0, libssl.so -> libssl.so.3): point them at the system's copy.
  for link in "$lib"/*.so; do
    if [ -L "$link" ] && [ ! -e "$link" ]; then
      local target
      target=$(readlink "$link")
      for dir in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu; do
        if [ -e "$dir/$target" ]; then ln -sf "$dir/$target" "$link" && break; fi
      done
    fi
  done
  export CMAKE_PREFIX_PATH=$prefix/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  export PKG_CONFIG_PATH=$lib/pkgconfig:$prefix/usr/share/pkgconfig
  export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PATH=$prefix/usr/bin:$PATH
  if ! command -v pkg-config >/dev/null && [ -x "$prefix/usr/bin/pkgconf" ]; then
    ln -sf pkgconf "$prefix/usr/bin/pkg-config"
  fi
  log "using $(ls "$DEBS"/*.deb | wc -l) unpacked .debs from $DEBS (prefix $prefix)"
}

ensure_deps() {
  if dpkg -s libabsl-dev >/dev/null 2>&1; then return 0; fi
  if compgen -G "$DEBS/*.deb" >/dev/null; then
    use_debs && return 0
    log "unpacking $DEBS failed"
    return 1
  fi
  log "libabsl-dev is not installed; trying deploy/install-deps.sh (needs a package mirror)"
  if timeout 900 bash deploy/install-deps.sh; then return 0; fi
  cat <<EOF
== run.sh: FAILED: the build dependencies (Abseil, GoogleTest, Google Benchmark,
   xxhash, RocksDB, OpenSSL headers, pkg-config) are missing and could not be
   installed: this machine probably has no network. Either run on a machine with
   the Debian packages of deploy/install-deps.sh, or carry them as .debs:
     (on a networked Debian 12 machine)  bash tests/gpu/run.sh --fetch-debs
     then bring build/gpu-debs/ along (e.g. the device tool's carry) and rerun;
     run.sh unpacks them into build/gpu-deps without installing anything.
EOF
  return 1
}

configure_and_build() {
  rm -rf "$BUILD"
  cmake --preset default -B "$BUILD" -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" -DKVSTASH_WITH_CUDA=ON ||
    return 1
  cmake --build "$BUILD" -j "$JOBS" --target kvstash_kernels kvstash_kernels_cuda \
    kvstash_kernels_reference_test kvstash_kernels_oracle_test kvstash_kernels_cuda_host_test \
    kvstash_gpu_codec_test kvstash_gpu_codec_bench kvstash_tier_gpu_test \
    kvstash_service_ipc_gpu_test kvstash_transport_gpu_test kvstashd
}

run_tests() {
  local failed=0 t
  for t in kernels/kvstash_kernels_reference_test kernels/kvstash_kernels_oracle_test \
    kernels/cuda/kvstash_kernels_cuda_host_test tests/gpu/kvstash_gpu_codec_test \
    tests/gpu/kvstash_tier_gpu_test tests/gpu/kvstash_service_ipc_gpu_test \
    tests/gpu/kvstash_transport_gpu_test; do
    log "running $t"
    if ! "$BUILD/$t" 2>&1 | keep "$(basename "$t").log"; then
      log "FAILED: $t"
      failed=1
    fi
  done
  # A GPU run must not pass by skipping.
  if grep -q "SKIPPED \] GpuCodec" "$LOGS/kvstash_gpu_codec_test.log"; then
    log "FAILED: the GPU tests skipped (no usable CUDA device)"
    failed=1
  fi
  return $failed
}

run_bench() {
  local bench=$BUILD/tests/gpu/kvstash_gpu_codec_bench
  log "benchmark (table)"
  "$bench" ${KVSTASH_BENCH_ARGS:-} 2>&1 | keep bench.txt || return 1
  log "benchmark (json)"
  "$bench" --json ${KVSTASH_BENCH_ARGS:-} | keep bench.json || return 1
}

main() {
  if [ "${1:-}" = "--fetch-debs" ]; then
    fetch_debs "${2:-}"
    exit $?
  fi
  mkdir -p "$LOGS" || exit 2
  local start=$SECONDS status=0
  log "repo $ROOT, build $BUILD, CUDA archs $ARCHS, $JOBS jobs, logs $LOGS"
  ensure_deps || exit 2
  configure_and_build 2>&1 | keep build.log
  if [ "${PIPESTATUS[0]}" -ne 0 ]; then
    log "FAILED: configure/build (see build.log)"
    exit 2
  fi
  { nvidia-smi || log "nvidia-smi failed"; } 2>&1 | keep nvidia-smi.txt
  run_tests || status=1
  run_bench || status=1
  log "done in $((SECONDS - start)) s: $([ $status -eq 0 ] && echo PASSED || echo FAILED)"
  exit $status
}

main "$@"
