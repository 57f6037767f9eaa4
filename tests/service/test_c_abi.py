"""The C ABI of libkvstash (client/include/kvstash/kvstash.h) from Python ctypes.

Starts a real kvstashd (as test_node_e2e.py does) and drives it through
libkvstash.so: put, lookup, get (library- and caller-owned buffers), pin,
erase, stats, the hash helpers, and argument errors.
Run: KVSTASHD_BIN=... [KVSTASH_C_LIB=.../libkvstash.so] pytest tests/service
"""
import ctypes as C
import os

import pytest

from test_node_e2e import KVSTASHD, Daemon

LIB = os.environ.get(
    "KVSTASH_C_LIB",
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(KVSTASHD))), "client",
                 "libkvstash.so"))

OK, INVALID_ARGUMENT, OUT_OF_RANGE, UNAVAILABLE = 0, 3, 11, 14
TIER_NONE, TIER_HOST = 0, 2
BF16, NVFP4 = 0, 3


class Key(C.Structure):
    _fields_ = [("ns", C.c_uint64), ("digest", C.c_uint8 * 32), ("digest_len", C.c_uint8)]


class Geometry(C.Structure):
    _fields_ = [(n, C.c_uint32) for n in ("layers", "kv_heads", "head_dim", "block_tokens",
                                          "planes")]


class PutBlock(C.Structure):
    _fields_ = [("key", Key), ("parent", Key), ("has_parent", C.c_uint8), ("format", C.c_uint8),
                ("priority", C.c_uint8), ("geometry", Geometry),
                ("scales", C.POINTER(C.c_float)), ("scale_count", C.c_size_t),
                ("payload", C.POINTER(C.c_uint8)), ("payload_len", C.c_size_t)]


class Block(C.Structure):
    _fields_ = [("payload", C.POINTER(C.c_uint8)), ("payload_capacity", C.c_size_t),
                ("scales", C.POINTER(C.c_float)), ("scales_capacity", C.c_size_t),
                ("payload_len", C.c_size_t), ("scale_count", C.c_size_t), ("key", Key),
                ("found", C.c_uint8), ("tier", C.c_uint8), ("format", C.c_uint8),
                ("dynamic_scales", C.c_uint8), ("geometry", Geometry), ("owned", C.c_uint32)]


class TierStats(C.Structure):
    _fields_ = ([("name", C.c_char * 32)] +
                [(n, C.c_uint64) for n in ("capacity_bytes", "used_bytes", "blocks", "hits",
                                           "misses", "bytes_in", "bytes_out", "evictions",
                                           "spills", "promotions", "checksum_failures")] +
                [("read_only", C.c_uint8), ("error", C.c_char * 256)])


@pytest.fixture(scope="module")
def lib():
    if not os.path.exists(LIB):
        pytest.skip("no %s (build target kvstash_c)" % LIB)
    try:
        lib = C.CDLL(LIB)
    except OSError as e:  # e.g. an ASan build, which needs the ASan runtime first
        pytest.skip("cannot load %s: %s" % (LIB, e))
    lib.kvstash_last_error.restype = C.c_char_p
    lib.kvstash_status_name.restype = C.c_char_p
    lib.kvstash_key_from_u64.restype = Key
    lib.kvstash_key_from_u64.argtypes = [C.c_uint64, C.c_uint64]
    lib.kvstash_hash_xxh3_seed.restype = C.c_uint64
    lib.kvstash_hash_xxh3_seed.argtypes = [C.c_uint64, C.c_char_p, C.c_char_p]
    lib.kvstash_hash_xxh3.argtypes = [C.POINTER(C.c_uint32), C.c_size_t, C.c_size_t, C.c_uint64,
                                      C.c_uint64, C.POINTER(C.c_uint64), C.c_size_t,
                                      C.POINTER(C.c_size_t)]
    P, SZ, PSZ = C.c_void_p, C.c_size_t, C.POINTER(C.c_size_t)
    lib.kvstash_connect.argtypes = [C.c_char_p, C.POINTER(C.c_void_p)]
    lib.kvstash_close.argtypes, lib.kvstash_close.restype = [P], None
    lib.kvstash_lookup.argtypes = [P, P, SZ, PSZ, P]
    lib.kvstash_put.argtypes = [P, P, SZ, PSZ]
    lib.kvstash_get.argtypes = [P, P, SZ, C.c_uint8, P]
    lib.kvstash_block_free.argtypes, lib.kvstash_block_free.restype = [P, SZ], None
    for f in (lib.kvstash_pin, lib.kvstash_unpin, lib.kvstash_erase):
        f.argtypes = [P, P, SZ, PSZ]
    lib.kvstash_stats.argtypes = [P, P, SZ, PSZ]
    return lib


@pytest.fixture
def client(lib, tmp_path):
    d = Daemon(tmp_path / "data", "--host-gib", "0.01", "--disk-gib", "0", "--storage-format",
               "bf16")
    c = C.c_void_p()
    assert lib.kvstash_connect(d.socket.encode(), C.byref(c)) == OK, lib.kvstash_last_error()
    yield lib, c, d
    lib.kvstash_close(c)
    if d.proc.poll() is None:
        d.stop()


def tiny_block(lib, key, seed):
    payload = (C.c_uint8 * (2 * 2 * 2 * 16 * 64 * 2))()
    for i in range(0, len(payload), 2):
        payload[i], payload[i + 1] = (seed + i) & 0x7f, 0x3f  # bf16 in [1, 2)
    b = PutBlock(key=key, format=BF16, geometry=Geometry(2, 2, 64, 16, 2))
    b.payload, b.payload_len = C.cast(payload, C.POINTER(C.c_uint8)), len(payload)
    return b, bytes(payload)


def test_put_lookup_get_pin_erase_stats(client):
    lib, c, _ = client
    keys = (Key * 3)(*[lib.kvstash_key_from_u64(9, 100 + i) for i in range(3)])
    blocks, payloads = zip(*[tiny_block(lib, keys[i], i) for i in range(2)])
    stored = C.c_size_t()
    assert lib.kvstash_put(c, (PutBlock * 2)(*blocks), 2, C.byref(stored)) == OK
    assert stored.value == 2

    matched, tiers = C.c_size_t(), (C.c_uint8 * 3)()
    assert lib.kvstash_lookup(c, keys, 3, C.byref(matched), tiers) == OK
    assert matched.value == 2 and list(tiers) == [TIER_HOST, TIER_HOST, TIER_NONE]

    out = (Block * 3)()  # zeroed: the library allocates the buffers
    assert lib.kvstash_get(c, keys, 3, BF16, out) == OK, lib.kvstash_last_error()
    assert [b.found for b in out] == [1, 1, 0]
    assert C.string_at(out[1].payload, out[1].payload_len) == payloads[1]
    assert lib.kvstash_get(c, keys, 1, NVFP4, out) == OK
    assert out[0].format == NVFP4 and out[0].scale_count == 4 and out[0].scales[0] > 0
    lib.kvstash_block_free(out, 3)
    assert not out[0].payload

    small = (C.c_uint8 * 16)()
    mine = Block(payload=C.cast(small, C.POINTER(C.c_uint8)), payload_capacity=16)
    assert lib.kvstash_get(c, keys, 1, BF16, C.byref(mine)) == OUT_OF_RANGE
    assert mine.payload_len == len(payloads[0])

    count = C.c_size_t()
    assert lib.kvstash_pin(c, keys, 3, C.byref(count)) == OK and count.value == 2
    assert lib.kvstash_unpin(c, keys, 3, C.byref(count)) == OK and count.value == 2
    assert lib.kvstash_erase(c, keys, 1, C.byref(count)) == OK and count.value == 1

    n = C.c_size_t()
    stats = (TierStats * 4)()
    assert lib.kvstash_stats(c, stats, 4, C.byref(n)) == OK
    assert stats[0].name == b"host" and stats[0].blocks == 1


def test_errors_name_the_argument(client):
    lib, c, d = client
    matched = C.c_size_t()
    assert lib.kvstash_lookup(c, None, 1, C.byref(matched), (C.c_uint8 * 1)()) == INVALID_ARGUMENT
    assert b"keys" in lib.kvstash_last_error()
    bad = Key(ns=1, digest_len=40)
    assert lib.kvstash_lookup(c, C.byref(bad), 1, C.byref(matched),
                              (C.c_uint8 * 1)()) == INVALID_ARGUMENT
    assert b"keys[0].digest_len" in lib.kvstash_last_error()
    assert lib.kvstash_status_name(UNAVAILABLE) == b"UNAVAILABLE"
    d.stop()
    assert lib.kvstash_lookup(c, C.byref(lib.kvstash_key_from_u64(1, 1)), 1, C.byref(matched),
                              (C.c_uint8 * 1)()) == UNAVAILABLE


def test_connect_without_daemon_fails_cleanly(lib, tmp_path):
    c = C.c_void_p()
    assert lib.kvstash_connect(str(tmp_path / "none.sock").encode(), C.byref(c)) == UNAVAILABLE
    assert not c.value


def test_xxh3_hashes_match_dynamo_vectors(lib):
    # client/testdata/hash_vectors.txt: block_tokens 1, seeds 1337/1337.
    tokens = (C.c_uint32 * 3)(12815, 137158, 26889)
    out, n = (C.c_uint64 * 3)(), C.c_size_t()
    assert lib.kvstash_hash_xxh3(tokens, 3, 1, 1337, 1337, out, 3, C.byref(n)) == OK
    assert list(out) == [5316082539513853764, 11270232290005765834, 4537525294101243590]
    seed = lib.kvstash_hash_xxh3_seed(1337, b"adapter-a", b"tenant-7")
    assert lib.kvstash_hash_xxh3(tokens, 3, 1, seed, 0, out, 3, C.byref(n)) == OK
    assert list(out) == [4730859344395173697, 11431547768238528831, 18086953302163742717]
