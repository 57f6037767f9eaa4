"""Cluster mode end to end: a real etcd started here and three kvstashd
processes (--etcd, --replicas). A block put on one node is found and fetched
byte-exact on another; a node killed with SIGKILL leaves the membership
within its lease and its blocks become misses (with R=1) or stay available
(with R=2); a hung node costs requests at most the remote timeout; a node
that restarts rejoins.

Run: KVSTASH_BIN=... KVSTASHD_BIN=... /usr/bin/python3 -m pytest tests/service
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from test_node_e2e import KVSTASH, Daemon

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
TINY_BF16_BYTES = 2 * 2 * 2 * 16 * 64 * 2
KEYS = list(range(9000, 9030))

pytestmark = pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd is not installed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Etcd:
    def __init__(self, data_dir):
        self.client, peer = free_port(), free_port()
        self.url = "http://127.0.0.1:%d" % self.client
        self.proc = subprocess.Popen(
            [ETCD, "--data-dir", str(data_dir), "--name", "default",
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
             "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
             "--initial-cluster", "default=http://127.0.0.1:%d" % peer],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for("etcd", lambda: self.healthy())

    def healthy(self):
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def wait_for(what, check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def members(daemon):
    return sorted(m["node_id"] for m in daemon.http_json("/v1/cluster")["members"])


def put_all(node, tmp_path):
    for k in KEYS:
        blk = tmp_path / ("b%d.bin" % k)
        blk.write_bytes(bytes([k % 251]) * TINY_BF16_BYTES)
        node.cli("put", "--key", str(k), "--in", str(blk), "--format", "bf16")


def get(node, key, out):
    """The block as nvfp4 bytes, or None for a miss; bounded in time."""
    p = subprocess.run([KVSTASH, "get", "--key", str(key), "--format", "nvfp4", "--out", str(out),
                        "--connect", node.socket, "--json"],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        assert "is not held" in p.stderr, p.stderr
        return None
    return out.read_bytes()


@pytest.fixture
def cluster(tmp_path, request):
    """Three nodes; param: replicas, or (replicas, extra kvstashd flags)."""
    param = getattr(request, "param", 1)
    replicas, extra = (param, ()) if isinstance(param, int) else param
    etcd = Etcd(tmp_path / "etcd")
    nodes = {}
    try:
        for name in ("a", "b", "c"):
            nodes[name] = Daemon(tmp_path / name, "--host-gib", "0.02", "--disk-gib", "0",
                                 "--node-id", name, "--etcd", etcd.url, "--cluster", "t",
                                 "--replicas", str(replicas), "--lease-ttl-s", "2",
                                 "--remote-timeout-s", "1", *extra)
        for n in nodes.values():
            wait_for("3 members", lambda n=n: members(n) == ["a", "b", "c"])
        yield nodes
    finally:
        for n in nodes.values():
            if n.proc.poll() is None:
                n.stop()
        etcd.stop()


def remote_stats(node):
    return next(t for t in node.cli("stats")["tiers"] if t["name"] == "remote")


def metric(node, name):
    with urllib.request.urlopen("http://%s/metrics" % node.http, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(name + " not in /metrics")


def test_a_block_put_on_one_node_is_fetched_byte_exact_on_another(cluster, tmp_path):
    a, c = cluster["a"], cluster["c"]
    put_all(a, tmp_path)
    found = wait_for("c to find a's blocks",
                     lambda: c.cli("lookup", "--keys", ",".join(map(str, KEYS)))["matched"]
                     == len(KEYS) and True)
    assert found
    for k in KEYS[:8]:
        want = get(a, k, tmp_path / "a.out")
        got = get(c, k, tmp_path / "c.out")
        assert want is not None and got == want, k
    remote = [t for t in c.cli("stats")["tiers"] if t["name"] == "remote"]
    assert remote and remote[0]["hits"] >= 1
    # c's router follows every member's tiers (no --node-events needed).
    holders = wait_for("c's router to index a's blocks", lambda: {
        w["worker"]: w["blocks"] for w in c.http_json("/v1/workers")["workers"]
        if w["kind"] == "kvstash" and w["worker"] == "a" and w["blocks"] >= len(KEYS)})
    assert holders["a"] >= len(KEYS)


def test_a_killed_node_leaves_and_its_blocks_become_misses(cluster, tmp_path):
    a, b, c = cluster["a"], cluster["b"], cluster["c"]
    put_all(b, tmp_path)
    wait_for("c to see b's blocks",
             lambda: c.cli("lookup", "--keys", ",".join(map(str, KEYS)))["matched"] == len(KEYS))
    b.stop(signal.SIGKILL)
    wait_for("b to leave", lambda: members(c) == ["a", "c"] and members(a) == ["a", "c"])
    results = [get(c, k, tmp_path / "c.out") for k in KEYS]
    misses = sum(r is None for r in results)
    assert 0 < misses < len(KEYS)  # b owned about a third of them, alone (R=1)
    for k, r in zip(KEYS, results):  # what is served is right
        if r is not None:
            assert r == get(a, k, tmp_path / "a.out") or get(a, k, tmp_path / "a.out") is None

    b.start()
    wait_for("b to rejoin", lambda: members(c) == ["a", "b", "c"])


@pytest.mark.parametrize("cluster", [2], indirect=True)
def test_two_replicas_keep_a_dead_nodes_blocks(cluster, tmp_path):
    b, c = cluster["b"], cluster["c"]
    put_all(b, tmp_path)
    wait_for("c to see b's blocks",
             lambda: c.cli("lookup", "--keys", ",".join(map(str, KEYS)))["matched"] == len(KEYS))
    want = {k: get(b, k, tmp_path / "b.out") for k in KEYS}
    b.stop(signal.SIGKILL)
    wait_for("b to leave", lambda: members(c) == ["a", "c"])
    for k in KEYS:
        assert get(c, k, tmp_path / "c.out") == want[k], k


def test_a_hung_node_costs_at_most_the_timeout(cluster, tmp_path):
    b, c = cluster["b"], cluster["c"]
    put_all(b, tmp_path)
    b.proc.send_signal(signal.SIGSTOP)
    try:
        for k in KEYS[:5]:
            # Answers, hit or miss: get() fails the test by TimeoutExpired if a
            # request hangs on the stopped node instead of giving up after
            # --remote-timeout-s.
            get(c, k, tmp_path / "c.out")
    finally:
        b.proc.send_signal(signal.SIGCONT)


def test_pulls_go_over_ucx_rma_from_the_owners_arena(cluster, tmp_path):
    a, c = cluster["a"], cluster["c"]
    assert all(m["ucx_rma"] for m in c.http_json("/v1/cluster")["members"])
    put_all(a, tmp_path)
    wait_for("c to find a's blocks",
             lambda: c.cli("lookup", "--keys", ",".join(map(str, KEYS)))["matched"] == len(KEYS))
    before = remote_stats(c)
    for k in KEYS[:8]:
        want = get(a, k, tmp_path / "a.out")
        assert want is not None and get(c, k, tmp_path / "c.out") == want, k
    after = remote_stats(c)
    pulled = after["hits"] - before["hits"]
    assert pulled >= 1  # c owns about a third of the keys; the rest come from a or b
    assert after["ucx_pulls"] - before["ucx_pulls"] == pulled
    assert after["ucx_bytes"] > before["ucx_bytes"]
    assert after["ucx_fallbacks"] == before["ucx_fallbacks"] and after["ucx_errors"] == 0
    assert c.http_json("/v1/cluster")["remote"]["ucx"] == "ucx/tcp"
    assert metric(c, "kvstash_remote_ucx_pulls_total") == after["ucx_pulls"]


@pytest.mark.parametrize("cluster", [(1, ("--ucx-tls", "none"))], indirect=True)
def test_without_ucx_pulls_go_inline(cluster, tmp_path):
    a, c = cluster["a"], cluster["c"]
    assert not any(m["ucx_rma"] for m in c.http_json("/v1/cluster")["members"])
    put_all(a, tmp_path)
    wait_for("c to find a's blocks",
             lambda: c.cli("lookup", "--keys", ",".join(map(str, KEYS)))["matched"] == len(KEYS))
    for k in KEYS[:8]:
        want = get(a, k, tmp_path / "a.out")
        assert want is not None and get(c, k, tmp_path / "c.out") == want, k
    remote = remote_stats(c)
    assert remote["hits"] >= 1
    assert remote["ucx_pulls"] == 0 and remote["ucx_bytes"] == 0
    assert c.http_json("/v1/cluster")["remote"]["ucx"] == "none"


def test_an_owner_killed_around_ucx_pulls_costs_misses_not_wrong_data(cluster, tmp_path):
    a, b, c = cluster["a"], cluster["b"], cluster["c"]
    put_all(b, tmp_path)
    wait_for("c to see b's blocks",
             lambda: c.cli("lookup", "--keys", ",".join(map(str, KEYS)))["matched"] == len(KEYS))
    want = {k: get(b, k, tmp_path / "b.out") for k in KEYS}
    for k in KEYS[:4]:  # c has UCX endpoints to the owners now
        assert get(c, k, tmp_path / "c.out") == want[k], k
    assert remote_stats(c)["ucx_pulls"] >= 1
    # Kill b while c pulls (it may land before, between or during pulls);
    # every answer is a miss or the right bytes, each within the timeout
    # (get() fails on TimeoutExpired).
    killer = threading.Thread(target=lambda: b.stop(signal.SIGKILL))
    killer.start()
    try:
        for k in KEYS:
            got = get(c, k, tmp_path / "c.out")
            assert got is None or got == want[k], k
    finally:
        killer.join()
    for k in KEYS:  # before b's lease ends too: misses, not hangs
        got = get(c, k, tmp_path / "c.out")
        assert got is None or got == want[k], k
    assert c.proc.poll() is None and a.proc.poll() is None
    wait_for("b to leave", lambda: members(c) == ["a", "c"])
    # The survivors go on serving each other.
    blk = tmp_path / "fresh.bin"
    blk.write_bytes(bytes([7]) * TINY_BF16_BYTES)
    c.cli("put", "--key", "9999", "--in", str(blk), "--format", "bf16")
    fresh = get(c, 9999, tmp_path / "c.out")
    assert fresh is not None and get(a, 9999, tmp_path / "a.out") == fresh
