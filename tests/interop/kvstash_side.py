"""The kvstash side: the `kvstash` CLI, a `kvstashd` on loopback, and its HTTP API.

Binaries come from KVSTASH_BUILD_DIR (default build/default, relative to the repo
root): tools/kvstash and service/kvstashd.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]


def build_dir():
    d = pathlib.Path(os.environ.get("KVSTASH_BUILD_DIR", "build/default"))
    return d if d.is_absolute() else REPO / d


def binary(rel):
    """The path of a built binary, or an explanation of why it is missing."""
    path = build_dir() / rel
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(
            f"{path} does not exist or is not executable; build it "
            f"(cmake --build {build_dir()} --target {path.name}) or set KVSTASH_BUILD_DIR"
        )
    return path


def kvstash_hash(tokens, block_tokens, seed=None, lora_name=None, cache_salt=None):
    """`kvstash hash --scheme sha256_cbor ... --json`, parsed."""
    cmd = [
        str(binary("tools/kvstash")),
        "hash",
        "--scheme",
        "sha256_cbor",
        "--block-tokens",
        str(block_tokens),
        "--tokens",
        ",".join(str(t) for t in tokens),
        "--json",
    ]
    if seed is not None:
        cmd += ["--seed", seed]
    if lora_name is not None:
        cmd += ["--lora-name", lora_name]
    if cache_salt is not None:
        cmd += ["--cache-salt", cache_salt]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if run.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd[:8])} ... exited {run.returncode}: {run.stderr.strip()}"
        )
    return json.loads(run.stdout)


def free_ports(n, consecutive=False):
    """n TCP ports free on this host right now (consecutive: p, p+1, ...)."""
    for _ in range(200):
        socks = []
        try:
            first = socket.socket()
            first.bind(("", 0))
            socks.append(first)
            base = first.getsockname()[1]
            ports = [base]
            for i in range(1, n):
                s = socket.socket()
                s.bind(("", base + i if consecutive else 0))
                socks.append(s)
                ports.append(s.getsockname()[1])
            return ports
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"could not find {n} free ports")


class Daemon:
    """A kvstashd on loopback with its own data directory; stopped by stop()."""

    READY_TIMEOUT_S = 30

    def __init__(self, data_dir, engine_events=(), extra_args=()):
        self.data_dir = pathlib.Path(data_dir)
        self.path = binary("service/kvstashd")
        self.args = [
            str(self.path),
            "--data-dir", str(self.data_dir),
            "--socket", str(self.data_dir / "kvstashd.sock"),
            "--listen", "127.0.0.1:0",
            "--http", "127.0.0.1:0",
            "--host-gib", "0.0625",
            "--disk-gib", "0",
            "--node-id", "interop-node",
        ]  # fmt: skip
        for spec in engine_events:
            self.args += ["--engine-events", spec]
        self.args += list(extra_args)
        self.stderr_path = self.data_dir / "kvstashd.stderr"
        self.proc = None
        self.http = None
        self.ready_line = None

    def start(self):
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=self._stderr, text=True, cwd=self.data_dir
        )
        lines = []

        def read():
            for line in self.proc.stdout:
                lines.append(line)
                if line.startswith("kvstashd ready"):
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.READY_TIMEOUT_S)
        ready = [l for l in lines if l.startswith("kvstashd ready")]
        if not ready:
            self.stop()
            raise AssertionError(self._why_not_ready(lines))
        self.ready_line = ready[0].strip()
        fields = dict(f.split("=", 1) for f in self.ready_line.split()[2:] if "=" in f)
        if "http" not in fields:
            self.stop()
            raise AssertionError(f"kvstashd's ready line has no http=: {self.ready_line!r}")
        self.http = "http://" + fields["http"]
        # Keep draining stdout so the daemon never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        return self

    def _why_not_ready(self, stdout_lines):
        code = self.proc.poll()
        stderr = self.stderr_path.read_text(errors="replace")[-3000:]
        state = (
            f"exited with status {code}"
            if code is not None
            else f"printed no 'kvstashd ready' line in {self.READY_TIMEOUT_S} s"
        )
        hint = ""
        if "unknown flag --engine-events" in stderr:
            hint = (
                "\n  => this kvstashd has no --engine-events flag yet (engine KV-event "
                "subscription); rebuild it from a tree that has it, or point "
                "KVSTASH_BUILD_DIR at such a build."
            )
        if "duplicate worker" in stderr:
            hint = (
                "\n  => kvstashd takes each worker on one endpoint only, but vLLM with "
                "--data-parallel-size N publishes DP rank r on the configured port + r: one "
                "worker needs N endpoints (its batches say which rank they are)."
            )
        return (
            f"kvstashd {state}{hint}\n  command: {' '.join(self.args)}\n"
            f"  stdout: {''.join(stdout_lines)[-1000:]!s}\n  stderr: {stderr}"
        )

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._stderr.close()

    def stderr_tail(self, n=2000):
        return self.stderr_path.read_text(errors="replace")[-n:]

    # ---------------------------------------------------------------- HTTP --

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.http + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise AssertionError(
                f"{method} {path} -> HTTP {e.code}: {e.read().decode(errors='replace')[:2000]}"
            ) from None

    def placement(self, body):
        return self.request("POST", "/v1/placement", body)

    def workers(self):
        return self.request("GET", "/v1/workers")


def wait_for(fetch, check, what, timeout_s=10.0, interval_s=0.05):
    """Calls fetch() until check(answer) is true; fails with the last answer after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = fetch()
        if check(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s} s waiting for {what}; last answer:\n"
                + json.dumps(answer, indent=1)[:6000]
            )
        time.sleep(interval_s)


def overlap(answer, worker, dp_rank, medium="device"):
    """A candidate's overlap on a medium in a /v1/placement answer; 0 when not listed."""
    for c in answer.get("candidates", []):
        if c.get("worker") == worker and c.get("dp_rank") == dp_rank:
            return c["overlap"][medium]
    return 0


def worker_entry(workers_answer, worker, dp_rank):
    for w in workers_answer.get("workers", []):
        if w.get("worker") == worker and w.get("dp_rank") == dp_rank:
            return w
    return None
