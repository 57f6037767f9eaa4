"""`kvstash hash` against independent implementations computed live:
python3-cbor2 + hashlib (vLLM sha256_cbor) and libxxhash via ctypes (Dynamo)."""
import json
import os
import random
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "vectors"))
import make_hash_vectors as ref  # noqa: E402

BIN = os.environ.get("KVSTASH_BIN", "build/default/tools/kvstash")


def kvstash_hash(*args):
    p = subprocess.run([BIN, "hash", *args, "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.mark.parametrize("block,n", [(16, 16), (16, 100), (4, 9), (512, 1030), (1, 5), (16, 7)])
def test_sha256_cbor_matches_vllm_recipe(block, n):
    tokens = [random.Random(n).randrange(0, 200000) for _ in range(n)]
    for seed in (None, "0"):
        args = ["--scheme", "sha256_cbor", "--block-tokens", str(block),
                "--tokens", ",".join(map(str, tokens))]
        if seed is not None:
            args += ["--seed", seed]
        out = kvstash_hash(*args)
        want = ref.vllm_chain(tokens, block, seed or "vllm-none-hash")
        assert [b["hash"] for b in out["blocks"]] == [d.hex() for d in want]
        assert [b["u64"] for b in out["blocks"]] == [int.from_bytes(d[-8:], "big") for d in want]


def test_sha256_cbor_extra_keys():
    tokens = list(range(64))
    out = kvstash_hash("--scheme", "sha256_cbor", "--block-tokens", "16", "--tokens",
                       ",".join(map(str, tokens)), "--lora-name", "ad", "--cache-salt", "s1")
    want = ref.vllm_chain(tokens, 16, extra=("ad",), first_extra=("s1",))
    assert [b["hash"] for b in out["blocks"]] == [d.hex() for d in want]


@pytest.mark.parametrize("chain_seed", [1337, 0])
def test_xxh3_matches_libxxhash_chain(chain_seed):
    tokens = [random.Random(5).randrange(0, 2**32) for _ in range(100)]
    out = kvstash_hash("--scheme", "xxh3", "--block-tokens", "16", "--tokens",
                       ",".join(map(str, tokens)), "--chain-seed", str(chain_seed))
    want = ref.xxh3_chain(tokens, 16, chain_seed=chain_seed)
    assert [b["u64"] for b in out["blocks"]] == want
    assert [b["hash"] for b in out["blocks"]] == ["%016x" % h for h in want]
    out = kvstash_hash("--scheme", "xxh3", "--block-tokens", "16", "--tokens",
                       ",".join(map(str, tokens)), "--lora-name", "L", "--namespace", "N")
    assert [b["u64"] for b in out["blocks"]] == ref.xxh3_chain(tokens, 16, lora="L",
                                                                namespace="N")


@pytest.mark.parametrize("args,needle", [
    (["--scheme", "md5"], "--scheme must be xxh3 or sha256_cbor"),
    (["--tokens", "1,-2"], "'-2' (token 1)"),
    (["--block-tokens", "0"], "--block-tokens must be positive"),
])
def test_bad_input(args, needle):
    base = {"--scheme": "xxh3", "--block-tokens": "4", "--tokens": "1,2,3,4"}
    for k, v in zip(args[::2], args[1::2]):
        base[k] = v
    p = subprocess.run([BIN, "hash", *[t for kv in base.items() for t in kv]],
                       capture_output=True, text=True)
    assert p.returncode == 2 and needle in p.stderr, p.stderr
