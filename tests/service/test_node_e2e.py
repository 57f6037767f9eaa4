"""End-to-end tests of kvstashd with real daemon and client processes.

Each test starts its own kvstashd (temp data dir, loopback ports chosen by
the kernel) and drives it with the `kvstash` CLI, i.e. through libkvstash.
Run: KVSTASH_BIN=... KVSTASHD_BIN=... pytest tests/service
"""
import json
import os
import signal
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

KVSTASH = os.environ.get("KVSTASH_BIN", "build/default/tools/kvstash")
KVSTASHD = os.environ.get("KVSTASHD_BIN", "build/default/service/kvstashd")
TINY_VALUES = 2 * 2 * 2 * 16 * 64  # layers x planes x kv_heads x tokens x head_dim


class Daemon:
    def __init__(self, data_dir, *flags):
        self.data_dir = str(data_dir)
        self.flags = list(flags)
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [KVSTASHD, "--data-dir", self.data_dir, "--listen", "127.0.0.1:0", "--http",
             "127.0.0.1:0", *self.flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("kvstashd ready"), self.proc.stderr.read()
        fields = dict(kv.split("=", 1) for kv in line.split()[2:])
        self.socket, self.http, self.tcp = fields["socket"], fields["http"], fields["tcp"]

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=30)
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc, err

    def cli(self, *args, check=True):
        p = subprocess.run([KVSTASH, *args, "--connect", self.socket, "--json"],
                           capture_output=True, text=True)
        if check:
            assert p.returncode == 0, p.stderr
            return json.loads(p.stdout)
        return p

    def http_json(self, path):
        with urllib.request.urlopen("http://%s%s" % (self.http, path), timeout=10) as r:
            return json.loads(r.read())

    def tier(self, name):
        return next(t for t in self.cli("stats")["tiers"] if t["name"] == name)


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "data", "--host-gib", "0.01", "--disk-gib", "0.05")
    yield d
    if d.proc.poll() is None:
        d.stop()


def block_file(tmp_path, seed, fmt="bf16"):
    """A tiny-profile block in bf16 (or raw bytes of the right size)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(TINY_VALUES).astype(np.float32)
    path = tmp_path / ("blk%d.%s" % (seed, fmt))
    (x.view(np.uint32) >> 16).astype(np.uint16).tofile(path)
    return path, x


def bf16_to_f32(path):
    return (np.fromfile(path, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def sqnr(x, y):
    return 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum((x - y).astype(np.float64) ** 2))


def test_round_trip_every_format(daemon, tmp_path):
    path, x = block_file(tmp_path, 1)
    daemon.cli("put", "--key", "1", "--in", str(path), "--format", "bf16")
    # Stored as NVFP4: every format comes back, each within its expected error.
    floors = {"bf16": 15, "fp16": 15, "fp8_e4m3": 15, "mxfp4": 12, "nvfp4": None}
    for fmt, floor in floors.items():
        out = tmp_path / ("out." + fmt)
        got = daemon.cli("get", "--key", "1", "--format", fmt, "--out", str(out))
        assert got["format"] == fmt and got["tier"] == "host"
        if fmt in ("bf16",):
            assert sqnr(x, bf16_to_f32(out)) > floor
        if fmt == "fp16":
            assert sqnr(x, np.fromfile(out, dtype=np.float16).astype(np.float32)) > floor
    # An NVFP4 block put as NVFP4 is stored bit for bit.
    nv = tmp_path / "out.nvfp4"
    scales = daemon.cli("get", "--key", "1", "--format", "nvfp4", "--out", str(nv))["scales"]
    daemon.cli("put", "--key", "2", "--in", str(nv), "--format", "nvfp4",
               "--scales", ",".join("%.9g" % s for s in scales))
    nv2 = tmp_path / "out2.nvfp4"
    daemon.cli("get", "--key", "2", "--format", "nvfp4", "--out", str(nv2))
    assert nv.read_bytes() == nv2.read_bytes()


def test_exact_round_trip_with_bf16_storage(tmp_path):
    d = Daemon(tmp_path / "data", "--host-gib", "0.01", "--disk-gib", "0", "--storage-format",
               "bf16")
    try:
        path, _ = block_file(tmp_path, 2)
        d.cli("put", "--key", "0x2a", "--in", str(path), "--format", "bf16")
        out = tmp_path / "o"
        d.cli("get", "--key", "42", "--format", "bf16", "--out", str(out))
        assert out.read_bytes() == path.read_bytes()
    finally:
        d.stop()


def test_lookup_partial_prefix_and_erase(daemon, tmp_path):
    path, _ = block_file(tmp_path, 3)
    for k in range(1, 6):
        args = ["put", "--key", str(k), "--in", str(path), "--format", "bf16"]
        if k > 1:
            args += ["--parent", str(k - 1)]
        daemon.cli(*args)
    assert daemon.cli("lookup", "--keys", "1,2,3,4,5,6")["matched"] == 5
    assert daemon.cli("lookup", "--keys", "9,1,2")["matched"] == 0
    assert daemon.cli("erase", "--keys", "3")["erased"] == 1
    r = daemon.cli("lookup", "--keys", "1,2,3,4,5")
    assert r["matched"] == 2 and r["tiers"] == ["host", "host"]


def test_pinned_blocks_survive_eviction(tmp_path):
    # Room for a handful of tiny NVFP4 blocks in host; the rest spill to disk.
    d = Daemon(tmp_path / "data", "--host-gib", "0.00005", "--disk-gib", "0.05")
    try:
        path, _ = block_file(tmp_path, 4)
        d.cli("put", "--key", "100", "--in", str(path), "--format", "bf16")
        assert d.cli("pin", "--keys", "100")["pinned"] == 1
        for k in range(101, 141):
            d.cli("put", "--key", str(k), "--in", str(path), "--format", "bf16")
        host = d.tier("host")
        assert host["evictions"] > 0 and host["used_bytes"] <= host["capacity_bytes"]
        assert d.cli("lookup", "--keys", "100")["tiers"] == ["host"]
        assert d.http_json("/v1/stats")["tiers"][0]["evictions"] == host["evictions"]
        d.cli("unpin", "--keys", "100")
    finally:
        d.stop()


def test_several_client_processes(daemon, tmp_path):
    path, _ = block_file(tmp_path, 5)

    def worker(w):
        for i in range(10):
            daemon.cli("put", "--key", str(1000 * (w + 1) + i), "--in", str(path), "--format",
                       "bf16")
        return daemon.cli("lookup", "--keys", ",".join(str(1000 * (w + 1) + i) for i in range(10)))

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(worker, range(4)))
    assert all(r["matched"] == 10 for r in results)
    assert daemon.tier("host")["blocks"] + daemon.tier("disk")["blocks"] >= 40


def test_restart_keeps_the_disk_tier(tmp_path):
    d = Daemon(tmp_path / "data", "--host-gib", "0", "--disk-gib", "0.05")
    path, _ = block_file(tmp_path, 6)
    d.cli("put", "--key", "77", "--in", str(path), "--format", "bf16")
    before = tmp_path / "before"
    d.cli("get", "--key", "77", "--format", "nvfp4", "--out", str(before))
    rc, err = d.stop()
    assert rc == 0 and "stopped cleanly" in err
    d.start()
    try:
        after = tmp_path / "after"
        got = d.cli("get", "--key", "77", "--format", "nvfp4", "--out", str(after))
        assert got["tier"] == "disk"
        assert before.read_bytes() == after.read_bytes()
    finally:
        d.stop()


def test_sigkill_during_puts_leaves_no_half_written_block(tmp_path):
    d = Daemon(tmp_path / "data", "--host-gib", "0", "--disk-gib", "0.05")
    path, _ = block_file(tmp_path, 7)
    ref = tmp_path / "ref"
    d.cli("put", "--key", "1", "--in", str(path), "--format", "bf16")
    d.cli("get", "--key", "1", "--format", "nvfp4", "--out", str(ref))
    writer = subprocess.Popen(
        ["bash", "-c", "for k in $(seq 2 400); do %s put --connect %s --key $k --in %s "
         "--format bf16 >/dev/null 2>&1 || exit 0; done" % (KVSTASH, d.socket, path)])
    time.sleep(1.0)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    writer.wait(timeout=60)
    d.proc.stdout.close()
    d.proc.stderr.close()
    d.start()
    try:
        held = d.cli("lookup", "--keys", ",".join(str(k) for k in range(1, 401)))["matched"]
        assert held >= 2, "acknowledged puts were lost"
        for k in range(1, held + 1):
            out = tmp_path / "k"
            d.cli("get", "--key", str(k), "--format", "nvfp4", "--out", str(out))
            assert out.read_bytes() == ref.read_bytes(), "block %d differs" % k
        assert d.tier("disk")["checksum_failures"] == 0
    finally:
        d.stop()


@pytest.mark.parametrize("args,needle", [
    (["put", "--key", "x1", "--in", "/dev/null", "--format", "bf16"], "--key"),
    (["put", "--key", "1", "--in", "/nonexistent", "--format", "bf16"], "/nonexistent"),
    (["put", "--key", "1", "--in", "/dev/null", "--format", "bf17"], "unknown format"),
    (["get", "--key", "12345", "--out", "/tmp/never"], "not held"),
    (["lookup", "--keys", ""], "--keys is empty"),
])
def test_bad_requests_are_named_and_harmless(daemon, tmp_path, args, needle):
    p = daemon.cli(*args, check=False)
    assert p.returncode != 0 and needle in p.stderr, p.stderr
    assert daemon.cli("stats")["tiers"][0]["name"] == "host"  # still serving


def test_wrong_payload_size_is_rejected(daemon, tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\0" * 1000)
    p = daemon.cli("put", "--key", "5", "--in", str(bad), "--format", "bf16", check=False)
    assert p.returncode != 0 and "blocks[0].payload has 1000 bytes" in p.stderr
    assert daemon.cli("lookup", "--keys", "5")["matched"] == 0
