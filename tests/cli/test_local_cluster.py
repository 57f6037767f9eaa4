"""deploy/local-cluster.sh end to end: a real 3-node cluster on loopback ports
(start, /readyz on every node, kill and restart one, idempotent start, stop
leaving no process behind), its errors, and etcd's lifecycle.

Finds kvstashd through KVSTASHD_BIN, else beside KVSTASH_BIN's build tree,
else build/default. Registered in CMake as kvstash_cluster_py (label
`cluster`); the kvstash_cli_py run sets KVSTASH_SKIP_CLUSTER_TESTS so the
cluster is not started twice.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(REPO, "deploy", "local-cluster.sh")
EXIT_PORT_IN_USE = 3


def find_kvstashd():
    if os.environ.get("KVSTASHD_BIN"):
        return os.environ["KVSTASHD_BIN"]
    if os.environ.get("KVSTASH_BIN"):  # <build>/tools/kvstash -> <build>/service/kvstashd
        build = os.path.dirname(os.path.dirname(os.path.abspath(os.environ["KVSTASH_BIN"])))
        return os.path.join(build, "service", "kvstashd")
    return os.path.join(REPO, "build", "default", "service", "kvstashd")


KVSTASHD = find_kvstashd()

pytestmark = [
    pytest.mark.skipif(bool(os.environ.get("KVSTASH_SKIP_CLUSTER_TESTS")),
                       reason="runs as the ctest kvstash_cluster_py (label cluster)"),
    pytest.mark.skipif(not os.access(KVSTASHD, os.X_OK), reason=f"no kvstashd at {KVSTASHD}"),
]


def run(*args, env=None, timeout=45):
    e = dict(os.environ, KVSTASHD=KVSTASHD)
    e.update(env or {})
    return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, env=e,
                          timeout=timeout)


def gone(pid):
    """True when pid has exited: absent, or a zombie nobody reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def http_get(hostport, path):
    try:
        with urllib.request.urlopen(f"http://{hostport}{path}", timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def ephemeral_range():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = map(int, f.read().split())
    return lo, hi


def random_base_port():
    """A base port whose P..P+199 lie below the kernel's ephemeral range, so no
    outgoing connection takes one of them while the cluster starts."""
    lo, _ = ephemeral_range()
    top = min(lo, 32768) - 200
    return random.randrange(10000, top)


def read_state(cluster_dir):
    state = {"nodes": {}, "etcd": None, "info": {}}
    with open(os.path.join(cluster_dir, "cluster.state")) as f:
        for line in f:
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            if w[0] == "cluster":
                state["info"] = dict(zip(w[::2], w[1::2]))  # cluster, membership, ...
            elif w[0] == "etcd":
                state["etcd"] = {"pid": w[1], "url": w[2]}
            elif w[0] == "node":
                state["nodes"][w[1]] = {"pid": w[2], "socket": w[3], "tcp": w[4], "http": w[5]}
    return state


class Cluster:
    def __init__(self, env=None):
        self.dir = tempfile.mkdtemp(prefix="kvlc-")  # short: socket paths stay < 108 bytes
        self.env = env or {}
        self.pids = set()  # every pid seen, for the final check and the last-resort kill

    def cmd(self, command, *args, **kw):  # --dir first: whatever follows "--" is kvstashd's
        return run(command, "--dir", self.dir, *args, env=self.env, **kw)

    def start(self, *args):
        for _ in range(8):
            self.base = random_base_port()
            p = self.cmd("start", "--base-port", str(self.base), *args)
            if p.returncode != EXIT_PORT_IN_USE:
                break
        assert p.returncode == 0, p.stdout + p.stderr
        self.remember()
        return p

    def state(self):
        return read_state(self.dir)

    def remember(self):
        s = self.state()
        for n in s["nodes"].values():
            if n["pid"] != "-":
                self.pids.add(int(n["pid"]))
        if s["etcd"] and s["etcd"]["pid"] != "-":
            self.pids.add(int(s["etcd"]["pid"]))

    def close(self):
        self.cmd("stop", "--wipe", "--timeout", "5")
        for pid in self.pids:  # only if stop failed: never leave daemons behind
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    c = Cluster()
    yield c
    c.close()


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# auto: etcd when kvstashd has --etcd; node-events: no etcd, every node
# subscribes to the others, so every router sees every node's tiers.
@pytest.mark.parametrize("membership", ["auto", "node-events"])
def test_three_nodes_kill_restart_stop(cluster, membership):
    # A killed node may rejoin etcd once its lease expires: keep that short.
    extra = ["--", "--lease-ttl-s", "2"] if "--lease-ttl-s " in kvstashd_help() else []
    out = cluster.start("-n", "3", "--membership", membership, *extra).stdout
    s = cluster.state()
    assert sorted(s["nodes"]) == ["node-1", "node-2", "node-3"]
    for name, n in s["nodes"].items():
        assert name in out and n["socket"] in out and n["http"] in out
        assert http_get(n["http"], "/readyz") == (200, "ready"), name
        assert os.path.exists(n["socket"])
    if s["info"]["membership"] == "node-events":  # every router sees the two other nodes
        for n in s["nodes"].values():
            def peers_connected(http=n["http"]):
                code, body = http_get(http, "/v1/workers")
                return code == 200 and sum(p["connected"] for p in json.loads(body)["nodes"]) == 2
            wait_for(peers_connected, what=f"peers of {n['http']}")
    p = cluster.cmd("status")
    assert p.returncode == 0 and p.stdout.count(" ready ") == 3, p.stdout + p.stderr

    # start again: nothing changes
    p = cluster.cmd("start")
    assert p.returncode == 0 and "already running" in p.stderr, p.stderr
    assert cluster.state()["nodes"] == s["nodes"]

    # kill one: it is gone, the others serve, status says so
    victim = int(s["nodes"]["node-2"]["pid"])
    p = cluster.cmd("kill", "node-2")
    assert p.returncode == 0, p.stderr
    wait_for(lambda: gone(victim), what="node-2 to die")
    assert cluster.state()["nodes"]["node-2"]["pid"] == "-"
    assert http_get(s["nodes"]["node-2"]["http"], "/readyz")[0] is None
    assert http_get(s["nodes"]["node-1"]["http"], "/readyz") == (200, "ready")
    p = cluster.cmd("status")
    assert p.returncode == 1 and "node-2   -        down" in p.stdout, p.stdout

    # restart it: a new process on the same addresses; the others untouched
    p = cluster.cmd("restart", "2")
    assert p.returncode == 0, p.stdout + p.stderr
    cluster.remember()
    s2 = cluster.state()
    assert s2["nodes"]["node-2"]["pid"] not in ("-", str(victim))
    assert s2["nodes"]["node-2"]["http"] == s["nodes"]["node-2"]["http"]
    assert s2["nodes"]["node-1"]["pid"] == s["nodes"]["node-1"]["pid"]
    assert http_get(s2["nodes"]["node-2"]["http"], "/readyz") == (200, "ready")

    # stop: no process left, no pid or state file, data kept
    p = cluster.cmd("stop", "--timeout", "10")
    assert p.returncode == 0, p.stdout + p.stderr
    assert cluster.pids and all(gone(pid) for pid in cluster.pids), cluster.pids
    assert not os.path.exists(os.path.join(cluster.dir, "cluster.state"))
    for i in (1, 2, 3):
        node_dir = os.path.join(cluster.dir, f"node-{i}")
        assert not os.path.exists(os.path.join(node_dir, "pid"))
        assert os.path.isdir(os.path.join(node_dir, "disk"))
    p = cluster.cmd("stop")  # idempotent
    assert p.returncode == 0 and "nothing running" in p.stderr
    p = cluster.cmd("stop", "--wipe")
    assert p.returncode == 0 and not os.path.exists(cluster.dir)


def test_port_in_use_is_a_clear_error(cluster):
    for _ in range(8):
        holder = socket.socket()
        base = random_base_port()
        try:
            holder.bind(("127.0.0.1", base + 2))
            break
        except OSError:
            holder.close()
    holder.listen()
    try:
        p = cluster.cmd("start", "-n", "2", "--base-port", str(base))
    finally:
        holder.close()
    assert p.returncode == EXIT_PORT_IN_USE, p.stderr
    assert f"port {base + 2} (node-2 --listen) is in use" in p.stderr
    assert not os.path.exists(os.path.join(cluster.dir, "cluster.state"))


def test_help_and_usage_errors(tmp_path):
    p = run("--help")
    assert p.returncode == 0 and p.stdout.startswith("usage:")
    for word in ("start", "status", "stop", "kill", "restart", "--wipe", "--base-port"):
        assert word in p.stdout
    assert run("start", "--help").returncode == 0
    for args, needle in [([], "usage:"), (["frobnicate"], "unknown command"),
                         (["kill"], "needs a NODE"), (["start", "-n", "x"], "not a non-negative"),
                         (["start", "--", "--listen", "1:2"], "--listen is set per node"),
                         (["stop", "--bogus"], "unknown option")]:
        p = run(*args, "--dir", str(tmp_path / "c")) if args else run()
        assert p.returncode == 2 and needle in p.stderr, (args, p.stderr)
    p = run("start", "--dir", str(tmp_path / "c"), env={"KVSTASHD": "/nonexistent/kvstashd"})
    assert p.returncode == 1 and "not an executable file" in p.stderr
    p = run("status", "--dir", str(tmp_path / "c"))
    assert p.returncode == 1 and "no cluster in" in p.stderr


def kvstashd_help():
    return subprocess.run([KVSTASHD, "--help"], capture_output=True, text=True).stdout


def kvstashd_has_etcd():
    return "--etcd " in kvstashd_help()


SHIM = """#!/bin/bash
# kvstashd as it will be: the same daemon, its --help naming the cluster flags,
# which it drops (test-only stand-in until kvstashd has --etcd).
args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --help) "$REAL" --help; printf '  --etcd URLS\\n  --cluster NAME\\n  --replicas R\\n'; exit 0 ;;
    --etcd | --cluster | --replicas) shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
exec "$REAL" "${args[@]}"
"""


@pytest.mark.skipif(not shutil.which("etcd") and not os.path.exists("/usr/bin/etcd"),
                    reason="no etcd (apt-get install etcd-server)")
def test_etcd_membership_lifecycle(tmp_path):
    env = {}
    if not kvstashd_has_etcd():
        shim = tmp_path / "kvstashd"
        shim.write_text(SHIM)
        shim.chmod(0o755)
        env = {"KVSTASHD": str(shim), "REAL": KVSTASHD}
    c = Cluster(env)
    try:
        c.start("-n", "2", "--membership", "etcd")
        s = c.state()
        assert s["info"]["membership"] == "etcd" and s["etcd"]["pid"] != "-"
        etcd_pid = int(s["etcd"]["pid"])
        etcd_hp = s["etcd"]["url"].removeprefix("http://")
        assert http_get(etcd_hp, "/health")[0] == 200
        argv = open(f"/proc/{s['nodes']['node-1']['pid']}/cmdline").read().split("\0")
        if not env:  # the real daemon got the etcd address
            assert s["etcd"]["url"] in argv
        for n in s["nodes"].values():
            assert http_get(n["http"], "/readyz") == (200, "ready")
        if not env:  # the real daemons register themselves (status lists etcd's members)
            wait_for(lambda: "members: node-1 node-2" in c.cmd("status").stdout,
                     what="both nodes to register in etcd")

        assert c.cmd("kill", "etcd").returncode == 0
        wait_for(lambda: gone(etcd_pid), what="etcd to die")
        assert c.cmd("status").returncode == 1
        p = c.cmd("restart", "etcd")
        assert p.returncode == 0, p.stderr
        c.remember()
        assert http_get(etcd_hp, "/health")[0] == 200

        p = c.cmd("stop", "--timeout", "10")
        assert p.returncode == 0 and "etcd stopped" in p.stdout, p.stdout + p.stderr
        assert all(gone(pid) for pid in c.pids), c.pids
    finally:
        c.close()


def test_replay_against_the_local_cluster(cluster):
    """`kvstash replay --connect A,B,C`: requests round-robin over the members;
    blocks another member owns come back as remote hits."""
    cluster.start("-n", "3", "--membership", "auto")
    s = cluster.state()
    if s["info"]["membership"] != "etcd":
        pytest.skip("kvstashd without --etcd: no shared blocks")
    kvstash = os.path.join(os.path.dirname(os.path.dirname(KVSTASHD)), "tools", "kvstash")
    sockets = ",".join(n["socket"] for n in s["nodes"].values())
    p = subprocess.run([kvstash, "replay", "--profile", "tiny", "--requests", "200",
                        "--trace", os.path.join(REPO, "bench", "testdata", "mooncake_head400.jsonl"),
                        "--connect", sockets, "--json"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["mode"] == "connect" and r["nodes"] == 3 and r["requests"] == 200
    assert r["remote_hit_blocks"] > 0 and r["local_hit_blocks"] > 0
    assert r["local_hit_blocks"] + r["remote_hit_blocks"] == r["hit_blocks"]
