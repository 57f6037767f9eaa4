#!/usr/bin/env bash
# Installs every Debian 12 package kvstash needs to build, test and run.
# Idempotent and non-interactive: packages already present are skipped, and
# apt waits for the dpkg lock instead of failing. The CUDA 13 toolkit (with
# NCCL) is expected under /usr/local/cuda already; it is optional: without it
# the build is CPU-only and GPU tests are skipped.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang clang-format
  # C++ libraries
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev libxxhash-dev
  librocksdb-dev libcapnp-dev capnproto libucx-dev ucx-utils
  libzmq3-dev libmsgpack-cxx-dev libssl-dev
  # cluster and baselines
  etcd-server etcd-client redis-server
  # `kvstash replay --sweep` plots (pngcairo terminal)
  gnuplot-nox
  # Python tools for interop tests (Debian's /usr/bin/python3)
  python3 python3-numpy python3-cbor2 python3-msgpack python3-zmq python3-pytest python3-venv
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -o DPkg::Lock::Timeout=600 -qq
$SUDO apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 -qq \
  "${missing[@]}" >/dev/null
# Debian's etcd-server and redis-server packages start system services; the
# project starts its own instances on free ports, so stop the system ones.
for svc in etcd redis-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
echo "install-deps: done"
