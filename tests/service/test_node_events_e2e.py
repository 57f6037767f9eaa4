"""kvstash nodes' own KV events over Cap'n Proto: node B subscribes to node A
(--node-events A=HOST:PORT) and routes with what A holds; A dies (SIGKILL)
and B forgets it; A restarts with its disk tier and B learns it again.

Run: KVSTASH_BIN=... KVSTASHD_BIN=... /usr/bin/python3 -m pytest tests/service
"""
import json
import signal
import time
import urllib.request

from test_node_e2e import Daemon

TINY_BF16_BYTES = 2 * 2 * 2 * 16 * 64 * 2


def place(daemon, body):
    req = urllib.request.Request("http://%s/v1/placement" % daemon.http,
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def wait_for(what, check, timeout=15):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s" % what)


def node_entry(daemon, node):
    for w in daemon.http_json("/v1/workers")["workers"]:
        if w["worker"] == node and w["kind"] == "kvstash":
            return w
    return None


def test_a_peer_nodes_blocks_drive_remote_overlap_and_survive_its_restart(tmp_path):
    a = Daemon(tmp_path / "a", "--host-gib", "0", "--disk-gib", "0.05", "--node-id", "node-a")
    b = None
    try:
        b = Daemon(tmp_path / "b", "--host-gib", "0.01", "--disk-gib", "0", "--node-id",
                   "node-b", "--node-events", "node-a=%s" % a.tcp)
        blk = tmp_path / "blk.bin"
        blk.write_bytes(bytes(TINY_BF16_BYTES))
        for key in (101, 102, 103):
            a.cli("put", "--key", str(key), "--in", str(blk), "--format", "bf16")
        wait_for("node-a's 3 blocks on node-b",
                 lambda: (node_entry(b, "node-a") or {}).get("blocks") == 3)
        answer = place(b, {"block_hashes": [101, 102, 103, 104],
                           "candidates": [{"worker": "engine-1", "dp_rank": 0}]})
        c = answer["candidates"][0]
        assert c["overlap"] == {"device": 0, "host": 0, "disk": 0, "remote": 3}
        assert c["prefill_blocks"] == 1
        hints = answer["fetch_hints"]
        assert hints and hints[0]["node"] == "node-a" and hints[0]["medium"] == "disk"
        assert hints[0]["block_hashes"] == [101, 102, 103]
        peers = b.http_json("/v1/workers")["nodes"]
        assert peers[0]["node"] == "node-a" and peers[0]["connected"]

        a.stop(signal.SIGKILL)
        wait_for("node-b to forget node-a", lambda: node_entry(b, "node-a") is None)
        answer = place(b, {"block_hashes": [101], "candidates": [{"worker": "engine-1"}]})
        assert answer["candidates"][0]["overlap"]["remote"] == 0

        a.start()  # same data dir: the disk tier still holds the blocks
        b_flags = b.flags
        assert any(f.startswith("node-a=") for f in b_flags)
        # node-b dials the address it was given; a restarted node-a listens on a
        # new port, so restart node-b pointing at it (a fixed port in production).
        b.stop()
        b.flags = [f if not f.startswith("node-a=") else "node-a=%s" % a.tcp
                   for f in b_flags]
        b.start()
        wait_for("node-a's blocks again after its restart",
                 lambda: (node_entry(b, "node-a") or {}).get("blocks") == 3)
    finally:
        if b is not None and b.proc.poll() is None:
            b.stop()
        if a.proc.poll() is None:
            a.stop()


def test_nodes_following_each_other_stop_cleanly(tmp_path):
    a = Daemon(tmp_path / "a", "--host-gib", "0.01", "--disk-gib", "0", "--node-id", "a")
    b = Daemon(tmp_path / "b", "--host-gib", "0.01", "--disk-gib", "0", "--node-id", "b",
               "--node-events", "a=%s" % a.tcp)
    wait_for("b to follow a", lambda: b.http_json("/v1/workers")["nodes"][0]["connected"])
    rc_b, err_b = b.stop()  # while its subscription to a is live
    rc_a, err_a = a.stop()  # while b's subscription to it was live
    assert rc_b == 0 and "stopped cleanly" in err_b, err_b
    assert rc_a == 0 and "stopped cleanly" in err_a, err_a


def test_a_misnamed_peer_is_reported_not_trusted(tmp_path):
    a = Daemon(tmp_path / "a", "--host-gib", "0.01", "--disk-gib", "0", "--node-id", "real-name")
    b = Daemon(tmp_path / "b", "--host-gib", "0.01", "--disk-gib", "0",
               "--node-events", "wrong-name=%s" % a.tcp)
    try:
        blk = tmp_path / "blk.bin"
        blk.write_bytes(bytes(TINY_BF16_BYTES))
        a.cli("put", "--key", "5", "--in", str(blk), "--format", "bf16")
        err = wait_for("the name mismatch to be reported",
                       lambda: b.http_json("/v1/workers")["nodes"][0]["last_error"])
        assert "real-name" in err and "wrong-name" in err
        assert node_entry(b, "wrong-name") is None or node_entry(b, "wrong-name")["blocks"] == 0
    finally:
        b.stop()
        a.stop()
