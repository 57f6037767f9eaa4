#!/usr/bin/env bash
# Creates the Python venvs the interop suite runs vLLM's own code in: one venv per
# vLLM version, each installed from an exact lock file (requirements/vllm-X.txt).
#
#   tests/interop/setup_venv.sh            # every version in KVSTASH_INTEROP_VLLM
#   tests/interop/setup_venv.sh 0.33.0     # just this one
#
# Environment:
#   KVSTASH_INTEROP_VENV  parent directory of the venvs (default tests/interop/.venv);
#                         the venv of version X is $KVSTASH_INTEROP_VENV/vllm-X
#   KVSTASH_INTEROP_VLLM  versions to set up (default "0.33.0 0.23.0": the newest,
#                         which sends events as msgpack maps, and the last one that
#                         sends them as arrays)
#   PYTHON                the interpreter to build venvs from (default /usr/bin/python3;
#                         needs >= 3.11 and the venv module, Debian: python3-venv)
#
# Why not `pip install vllm`: that pulls ~10 GB of GPU kernels. vLLM is installed
# with --no-deps and only the packages its event and block-hash modules import
# (the lock files say which). torch is among them (vllm/__init__ imports it), and
# PyPI's only linux x86_64 torch is the CUDA build, which cannot be imported without
# its CUDA runtime wheels: ~3.3 GB to download and ~6 GB on disk per venv. No GPU
# is used. A venv is reused while its lock file is unchanged.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv_root="${KVSTASH_INTEROP_VENV:-$here/.venv}"
python="${PYTHON:-/usr/bin/python3}"
if [[ $# -gt 0 ]]; then
  versions="$*"
else
  versions="${KVSTASH_INTEROP_VLLM:-0.33.0 0.23.0}"
fi

die() {
  echo "setup_venv.sh: error: $*" >&2
  exit 1
}

# The modules the tests use; importing them is the check that a venv works.
check_imports='
import msgpack, pytest, zmq
import vllm
from vllm.distributed.kv_events import ZmqEventPublisher, KVEventBatch
from vllm.v1.core import kv_cache_utils
from vllm.v1.core.block_pool import BlockPool
from vllm.v1.request import Request
from vllm.sampling_params import SamplingParams
from vllm.lora.request import LoRARequest
from vllm.utils.hashing import sha256_cbor
print("vllm-version=" + vllm.__version__)
'

check_python() {
  command -v "$python" > /dev/null || die "no Python interpreter at $python (set PYTHON)"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "$python is $("$python" -V 2>&1); vLLM needs Python >= 3.11"
  "$python" -c 'import venv, ensurepip' 2> /dev/null ||
    die "$python has no working venv module; on Debian: apt-get install python3-venv"
}

setup_one() {
  local version="$1"
  local lock="$here/requirements/vllm-$version.txt"
  local venv="$venv_root/vllm-$version"
  local stamp="$venv/.kvstash-interop-lock.sha256"
  if [[ ! -f "$lock" ]]; then
    local known
    known="$(ls "$here/requirements" | sed 's/^vllm-//; s/\.txt$//' | tr '\n' ' ')"
    die "no lock file $lock (versions with one: $known)"
  fi
  local want
  want="$(sha256sum "$lock" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup_venv.sh: vllm $version: $venv is up to date"
    return
  fi

  echo "setup_venv.sh: vllm $version: creating $venv (downloads ~3.4 GB unless pip's cache has it)"
  local start=$SECONDS
  rm -rf "$venv"
  mkdir -p "$venv_root"
  "$python" -m venv "$venv" || die "python3 -m venv $venv failed"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade 'pip==26.3' ||
    die "could not upgrade pip in $venv (is PyPI reachable?)"
  "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
    --no-deps --only-binary=:all: -r "$lock" ||
    die "pip could not install $lock (is PyPI reachable? is there disk space for ~6 GB?)"
  local got
  # vLLM logs to stdout too: the version is the line the check marks.
  "$venv/bin/python" -c "$check_imports" > "$venv/import-check.log" 2>&1 ||
    die "vllm $version installed but its modules do not import:
$(tail -n 20 "$venv/import-check.log")"
  got="$(sed -n 's/^vllm-version=//p' "$venv/import-check.log")"
  [[ "$got" == "$version" ]] || die "$venv has vllm $got, expected $version"
  echo "$want" > "$stamp"
  local size
  size="$(du -sh "$venv" | cut -f1)"
  echo "setup_venv.sh: vllm $version: ready in $((SECONDS - start)) s, $size on disk"
}

check_python
for v in $versions; do
  setup_one "$v"
done
