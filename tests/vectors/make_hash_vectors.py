#!/usr/bin/python3
"""Makes block-hash test vectors with independent implementations:
Debian's python3-cbor2 + hashlib for vLLM's sha256_cbor, and libxxhash itself
(through ctypes) for Dynamo's XXH3 chain. Writes JSON to stdout.

Usage: /usr/bin/python3 tests/vectors/make_hash_vectors.py > client/testdata/hash_vectors.txt

Output: one case per line, fields separated by ' | ':
  xxh3 | block_tokens | seed | chain_seed | lora_name or - | namespace or - | tokens | hashes (u64)
  sha256_cbor | block_tokens | none_hash_seed | extra keys or - | first-block extra keys or -
      | tokens | digests (hex)
Lists are comma-separated. Lines starting with # are comments.
"""
import ctypes
import hashlib
import random
import struct

import cbor2

_xxh = ctypes.CDLL("libxxhash.so.0")
_xxh.XXH3_64bits_withSeed.restype = ctypes.c_uint64
_xxh.XXH3_64bits_withSeed.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
M64 = (1 << 64) - 1


def xxh3(data: bytes, seed: int) -> int:
    return _xxh.XXH3_64bits_withSeed(data, len(data), seed)


def xxh3_chain(tokens, block, seed=1337, chain_seed=1337, lora=None, namespace=None):
    if lora is not None:
        seed = (seed + xxh3(lora.encode(), 0)) & M64
    if namespace is not None:
        seed = (seed + xxh3(namespace.encode(), 1)) & M64
    out = []
    for b in range(0, len(tokens) - block + 1, block):
        local = xxh3(struct.pack("<%dI" % block, *tokens[b:b + block]), seed)
        out.append(local if not out else xxh3(struct.pack("<QQ", out[-1], local), chain_seed))
    return out


def sha256_cbor(obj) -> bytes:
    return hashlib.sha256(cbor2.dumps(obj, canonical=True)).digest()


def vllm_chain(tokens, block, seed="vllm-none-hash", extra=(), first_extra=()):
    parent = sha256_cbor(seed)
    out = []
    for b in range(0, len(tokens) - block + 1, block):
        keys = tuple(extra) + (tuple(first_extra) if b == 0 else ())
        parent = sha256_cbor((parent, tuple(tokens[b:b + block]), keys if keys else None))
        out.append(parent)
    return out


def csv(xs):
    return ",".join(str(x) for x in xs) if xs else "-"


def main():
    rng = random.Random(2026)
    print("# block-hash vectors from tests/vectors/make_hash_vectors.py (cbor2, hashlib, libxxhash)")
    shapes = [(16, 16), (16, 40), (4, 9), (1, 3), (32, 128), (512, 1100), (16, 15)]
    for i, (block, n) in enumerate(shapes):
        tokens = [rng.randrange(0, 152064) for _ in range(n)]
        if i == 1:
            tokens[3] = 2**32 - 1  # the largest token id still fits
        print(" | ".join(["xxh3", str(block), "1337", "1337", "-", "-", csv(tokens),
                          csv(xxh3_chain(tokens, block))]))
        print(" | ".join(["xxh3", str(block), "1337", "0", "adapter-a", "tenant-7", csv(tokens),
                          csv(xxh3_chain(tokens, block, chain_seed=0, lora="adapter-a",
                                         namespace="tenant-7"))]))
        for seed in ("vllm-none-hash", "0"):
            print(" | ".join(["sha256_cbor", str(block), seed, "-", "-", csv(tokens),
                              csv([d.hex() for d in vllm_chain(tokens, block, seed)])]))
        print(" | ".join(["sha256_cbor", str(block), "0", "lora-x", "salt", csv(tokens),
                          csv([d.hex() for d in vllm_chain(tokens, block, "0", ("lora-x",),
                                                           ("salt",))])]))


if __name__ == "__main__":
    main()
