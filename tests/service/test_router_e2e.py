"""The router end to end: engines publish real ZMQ multipart KV-event messages
(vLLM's wire format, both encodings) to a kvstashd subscribed with
--engine-events, and placement is asked over HTTP (POST /v1/placement) and
through `kvstash route`.

Run: KVSTASH_BIN=... KVSTASHD_BIN=... /usr/bin/python3 -m pytest tests/service
"""
import json
import struct
import subprocess
import time
import urllib.error
import urllib.request

import pytest

zmq = pytest.importorskip("zmq")
msgpack = pytest.importorskip("msgpack")

from test_node_e2e import KVSTASH, Daemon  # noqa: E402


class Engine:
    """A vLLM-like publisher: PUB bound on a loopback port, 3-frame messages."""

    def __init__(self, ctx):
        self.sock = ctx.socket(zmq.PUB)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.seq = 0

    def publish(self, events, dp_rank):
        payload = msgpack.packb([time.time(), events, dp_rank], use_bin_type=True)
        self.sock.send_multipart([b"kv-events", struct.pack(">q", self.seq), payload])
        self.seq += 1


def stored_map(hashes, medium="GPU", parent=None):
    return {"type": "BlockStored", "block_hashes": hashes, "parent_block_hash": parent,
            "token_ids": list(range(16 * len(hashes))), "block_size": 16, "medium": medium,
            "lora_name": None}


def stored_array(hashes, medium="GPU"):
    return ["BlockStored", hashes, None, list(range(16 * len(hashes))), 16, None, medium]


def place(daemon, body):
    req = urllib.request.Request("http://%s/v1/placement" % daemon.http,
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def rank(answer, worker, dp_rank):
    for c in answer["candidates"]:
        if c["worker"] == worker and c["dp_rank"] == dp_rank:
            return c
    return None


def publish_until(engine, events, dp_rank, daemon, hashes, check, timeout=15):
    """Publishes (again: a SUB joins late) until the placement answer passes."""
    deadline = time.time() + timeout
    answer = None
    while time.time() < deadline:
        engine.publish(events, dp_rank)
        _, answer = place(daemon, {"block_hashes": hashes})
        if check(answer):
            return answer
        time.sleep(0.05)
    pytest.fail("placement never reflected the events; last answer: %s" % answer)


@pytest.fixture
def cluster(tmp_path):
    ctx = zmq.Context()
    w1, w2 = Engine(ctx), Engine(ctx)
    d = Daemon(tmp_path / "data", "--host-gib", "0.01", "--disk-gib", "0", "--node-id", "node-a",
               "--engine-events", "w1=tcp://127.0.0.1:%d" % w1.port,
               "--engine-events", "w2=tcp://127.0.0.1:%d" % w2.port)
    yield d, w1, w2
    if d.proc.poll() is None:
        d.stop()
    ctx.destroy(linger=0)


def test_events_in_both_encodings_drive_placement(cluster):
    d, w1, w2 = cluster
    hashes = [11, 12, 13]
    # Map form (vLLM >= 0.2x), device, dp_rank 0.
    a = publish_until(w1, [stored_map(hashes)], 0, d, hashes,
                      lambda a: (rank(a, "w1", 0) or {}).get("overlap", {}).get("device") == 3)
    best = a["candidates"][0]
    assert (best["worker"], best["dp_rank"]) == ("w1", 0)
    assert best["prefill_blocks"] == 0
    # Array form (older vLLM), CPU tier, dp_rank 1 of another worker; signed
    # int64 (SGLang) for the same 64 bits as 12.
    a = publish_until(w2, [stored_array([11, 12], "CPU")], 1, d, hashes,
                      lambda a: (rank(a, "w2", 1) or {}).get("overlap", {}).get("host") == 2)
    r2 = rank(a, "w2", 1)
    assert r2["overlap"] == {"device": 0, "host": 2, "disk": 0, "remote": 0}
    assert r2["prefill_blocks"] == 1
    assert a["candidates"][0]["worker"] == "w1"  # device beats host

    # Removal of the last block (map form), then a clear (array form).
    publish_until(w1, [{"type": "BlockRemoved", "block_hashes": [13], "medium": "GPU"}], 0, d,
                  hashes, lambda a: rank(a, "w1", 0)["overlap"]["device"] == 2)
    publish_until(w2, [["AllBlocksCleared"]], 1, d, hashes,
                  lambda a: (rank(a, "w2", 1) or {"overlap": {"host": 0}})["overlap"]["host"] == 0)

    workers = d.http_json("/v1/workers")
    names = {(w["worker"], w["dp_rank"]) for w in workers["workers"]}
    assert ("w1", 0) in names
    assert {e["worker"] for e in workers["engines"]} == {"w1", "w2"}
    assert all(e["decode_errors"] == 0 for e in workers["engines"])


def test_bytes_hashes_and_the_cli(cluster):
    d, w1, _ = cluster
    digest = bytes(range(32))
    wire = int.from_bytes(digest[-8:], "big")  # INTEROP.md: last 8 bytes, big-endian
    publish_until(w1, [stored_map([digest])], 2, d, [wire],
                  lambda a: (rank(a, "w1", 2) or {}).get("overlap", {}).get("device") == 1)
    p = subprocess.run([KVSTASH, "route", "--hashes", hex(wire), "--http", d.http, "--json"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    answer = json.loads(p.stdout)
    assert (answer["candidates"][0]["worker"], answer["candidates"][0]["dp_rank"]) == ("w1", 2)
    table = subprocess.run([KVSTASH, "route", "--hashes", str(wire), "--http", d.http],
                           capture_output=True, text=True)
    assert table.returncode == 0 and "w1" in table.stdout, table.stderr


def test_bad_requests_are_400_naming_the_field(cluster):
    d, _, _ = cluster
    status, body = place(d, {"block_hashes": [1, -1.5]})
    assert status == 400 and "block_hashes[1]" in body["error"]["message"]
    status, body = place(d, {"token_ids": [1, 2], "hash_scheme": "md5"})
    assert status == 400 and "hash_scheme" in body["error"]["message"]
    p = subprocess.run([KVSTASH, "route", "--http", d.http], capture_output=True, text=True)
    assert p.returncode == 2 and "--tokens or --hashes" in p.stderr


def test_the_nodes_own_blocks_are_indexed(tmp_path):
    d = Daemon(tmp_path / "data", "--host-gib", "0.01", "--disk-gib", "0", "--node-id", "node-b")
    try:
        blk = tmp_path / "b.bin"
        blk.write_bytes(bytes(2 * 2 * 2 * 16 * 64 * 2))
        d.cli("put", "--key", "77", "--in", str(blk), "--format", "bf16")
        workers = d.http_json("/v1/workers")["workers"]
        node = [w for w in workers if w["worker"] == "node-b"]
        assert node and node[0]["kind"] == "kvstash" and node[0]["blocks"] == 1
    finally:
        d.stop()
