"""`kvstash replay` end to end: JSON fields and their arithmetic, a hand-made
trace with exact figures, format comparison, the sweep's CSV/PNG, several
in-process nodes, --materialize as the size-only replay's twin, --connect
against a real kvstashd, and errors. Never checks durations or throughput.

Run: KVSTASH_BIN=build/default/tools/kvstash pytest tests/cli/test_replay_cli.py
"""
import json
import os
import shutil
import signal
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(os.environ.get("KVSTASH_BIN", os.path.join(REPO, "build/default/tools/kvstash")))
KVSTASHD = os.environ.get("KVSTASHD_BIN") or os.path.join(
    os.path.dirname(os.path.dirname(BIN)), "service", "kvstashd")
HEAD400 = os.path.join(REPO, "bench", "testdata", "mooncake_head400.jsonl")
FULL = os.path.join(REPO, "bench", "testdata", "mooncake_synthetic_trace.jsonl")
GIB = 1 << 30


def replay(*args, check=True):
    p = subprocess.run([BIN, "replay", *args], capture_output=True, text=True, timeout=600)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def replay_json(*args):
    return json.loads(replay(*args, "--json").stdout)


def test_json_fields_and_their_arithmetic():
    r = replay_json("--trace", HEAD400, "--host-gib", "16", "--format", "nvfp4")
    assert r["requests"] == 400
    assert r["profile"] == "llama-3.1-8b" and r["format"] == "nvfp4" and r["mode"] == "size-only"
    assert r["block_tokens"] == 512
    assert 0 < r["hit_tokens"] < r["prompt_tokens"]
    assert r["token_hit_rate"] == pytest.approx(r["hit_tokens"] / r["prompt_tokens"])
    assert r["block_hit_rate"] == pytest.approx(r["hit_blocks"] / r["blocks"])
    assert r["hit_blocks"] + r["computed_blocks"] == r["blocks"]
    src = r["sources"]
    assert set(src) == {"device", "host", "disk", "remote"}
    assert sum(s["hit_blocks"] for s in src.values()) == r["hit_blocks"]
    assert sum(s["hit_tokens"] for s in src.values()) == r["hit_tokens"]
    assert src["host"]["bytes"] == src["host"]["hit_blocks"] * r["block_bytes"]
    assert r["local_hit_blocks"] == r["hit_blocks"] and r["remote_hit_blocks"] == 0
    assert r["ttft_p50_ms"] <= r["ttft_p90_ms"] <= r["ttft_p99_ms"] <= r["ttft_ms"]["max"]
    assert r["ttft_mean_ms"] < r["no_cache_ttft_ms"]["mean"]
    (host,) = r["tiers"]
    assert host["name"] == "host" and host["capacity_bytes"] == 16 * GIB
    assert r["capacity_tokens"] == host["capacity_blocks"] * 512
    assert host["evictions"] == r["evictions"] > 0
    assert r["cost_model"]["host_gbps"] == 50


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_hand_made_trace_has_exact_figures(tmp_path):
    # 4-token blocks of a 1-layer model: every block takes one 4 KiB host
    # slot, so 12 KiB hold 3. r0 computes 1,2; r1 hits 1,2 and computes 3;
    # r2 computes 4, evicting 3 (the only leaf); r3 hits 1,2 and recomputes
    # 3, evicting 4.
    profile = write(tmp_path, "t.conf", "name = t\nlayers = 1\nkv_heads = 1\nhead_dim = 16\n"
                    "block_tokens = 4\nactive_params = 1e6\nq_heads = 1\n")
    trace = write(tmp_path, "t.jsonl",
                  '{"timestamp": 0, "input_length": 8, "hash_ids": [1, 2]}\n'
                  '{"timestamp": 1, "input_length": 10, "hash_ids": [1, 2, 3]}\n'
                  '{"timestamp": 2, "input_length": 4, "hash_ids": [4]}\n'
                  '{"timestamp": 3, "input_length": 12, "hash_ids": [1, 2, 3]}\n')
    r = replay_json("--trace", trace, "--profile", profile, "--block-tokens", "4",
                    "--host-gib", repr(3 * 4096 / GIB))
    assert (r["requests"], r["prompt_tokens"], r["hit_tokens"]) == (4, 34, 16)
    assert (r["blocks"], r["hit_blocks"], r["computed_blocks"]) == (9, 4, 5)
    assert r["token_hit_rate"] == pytest.approx(16 / 34)
    assert r["evictions"] == 2
    assert r["capacity_tokens"] == 12
    assert r["sources"]["host"]["hit_tokens"] == 16


def test_formats_compared_in_one_run():
    out = replay_json("--trace", HEAD400, "--host-gib", "32", "--format", "bf16,fp8_e4m3,nvfp4")
    runs = {r["format"]: r for r in out["runs"]}
    assert set(runs) == {"bf16", "fp8_e4m3", "nvfp4"}
    assert runs["nvfp4"]["capacity_tokens"] >= 1.75 * runs["fp8_e4m3"]["capacity_tokens"]
    assert runs["fp8_e4m3"]["capacity_tokens"] >= 1.95 * runs["bf16"]["capacity_tokens"]
    assert runs["nvfp4"]["token_hit_rate"] >= runs["fp8_e4m3"]["token_hit_rate"] >= \
        runs["bf16"]["token_hit_rate"]
    table = replay("--trace", HEAD400, "--host-gib", "32", "--format", "fp8_e4m3,nvfp4").stdout
    assert "token hit rate" in table and "TTFT p99 (ms)" in table and "nvfp4" in table


def test_sweep_writes_csv_and_plot(tmp_path):
    csv, png = tmp_path / "s.csv", tmp_path / "s.png"
    out = json.loads(replay("--trace", FULL, "--sweep", "--sweep-gib", "4,64,4096",
                            "--sweep-formats", "fp8_e4m3,nvfp4", "--csv", str(csv),
                            "--png", str(png), "--json").stdout)
    rows = csv.read_text().splitlines()
    assert rows[0].startswith("budget_gib,format,capacity_tokens,token_hit_rate")
    assert len(rows) == 1 + 3 * 2
    assert [p["format"] for p in out["points"]] == ["fp8_e4m3", "nvfp4"] * 3
    assert [p["host_gib"] for p in out["points"]] == [4, 4, 64, 64, 4096, 4096]
    cmp = out["nvfp4_vs_fp8"]
    assert cmp["min_capacity_ratio"] >= 1.75
    assert cmp["min_token_hit_rate_gain"] >= 0
    assert cmp["smallest_budget_token_hit_rate_gain"] > 0
    assert cmp["largest_budget_token_hit_rate_gain"] == 0  # converged
    if shutil.which("gnuplot"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = replay("--trace", HEAD400, "--sweep", "--sweep-gib", "8,16", "--csv",
                   str(tmp_path / "t.csv"), "--png", "").stdout
    assert "nvfp4 vs fp8_e4m3 over 2 budgets" in table


def test_several_nodes_report_local_and_remote_hits():
    r = replay_json("--trace", HEAD400, "--host-gib", "64", "--nodes", "3")
    assert r["nodes"] == 3
    assert r["remote_hit_blocks"] > 0 and r["local_hit_blocks"] > 0
    assert r["local_hit_blocks"] + r["remote_hit_blocks"] == r["hit_blocks"]
    assert r["sources"]["remote"]["hit_blocks"] == r["remote_hit_blocks"]
    (host,) = r["tiers"]
    assert host["capacity_bytes"] == 3 * 64 * GIB
    r2 = replay_json("--trace", HEAD400, "--host-gib", "64", "--nodes", "3", "--replicas", "2")
    assert r2["replicas"] == 2


def test_materialized_replay_is_the_size_only_twin(tmp_path):
    args = ["--trace", HEAD400, "--requests", "150", "--profile", "tiny", "--host-gib", "0.02",
            "--disk-gib", "0.05"]
    sized = replay_json(*args)
    real = replay_json(*args, "--materialize", "--scratch-dir", str(tmp_path))
    assert real["mode"] == "materialized"
    for key in ("hit_blocks", "hit_tokens", "evictions", "capacity_tokens", "block_bytes"):
        assert real[key] == sized[key], key
    for name in ("host", "disk"):
        assert real["sources"][name]["hit_blocks"] == sized["sources"][name]["hit_blocks"]
    assert real["sources"]["host"]["read_seconds"] > 0
    assert real["sources"]["host"]["measured_gbps"] > 0
    assert [t["evictions"] for t in real["tiers"]] == [t["evictions"] for t in sized["tiers"]]
    assert os.listdir(tmp_path) == []  # the scratch directory is removed


@pytest.mark.skipif(not os.access(KVSTASHD, os.X_OK), reason=f"no kvstashd at {KVSTASHD}")
def test_connect_replays_through_a_running_kvstashd(tmp_path):
    d = subprocess.Popen([KVSTASHD, "--data-dir", str(tmp_path), "--listen", "127.0.0.1:0",
                          "--http", "127.0.0.1:0", "--host-gib", "0.05", "--disk-gib", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = d.stdout.readline()
        assert line.startswith("kvstashd ready"), d.stderr.read()
        fields = dict(kv.split("=", 1) for kv in line.split()[2:])
        r = replay_json("--trace", HEAD400, "--requests", "120", "--profile", "tiny",
                        "--connect", fields["socket"])
        assert r["mode"] == "connect" and r["requests"] == 120
        assert r["hit_blocks"] > 0
        assert r["sources"]["host"]["hit_blocks"] == r["hit_blocks"]
        assert r["sources"]["host"]["read_seconds"] > 0
        assert any(t["name"] == "host" and t["blocks"] > 0 for t in r["tiers"])
        # Same trace, fresh in-process node of the same size: same hits.
        sized = replay_json("--trace", HEAD400, "--requests", "120", "--profile", "tiny",
                            "--host-gib", "0.05")
        assert sized["hit_blocks"] == r["hit_blocks"]
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(timeout=30)


def test_errors_name_what_is_wrong(tmp_path):
    cases = [
        (["--format", "fp5"], "--format: 'fp5' is not a format"),
        (["--trace", "/nonexistent.jsonl"], "cannot open trace '/nonexistent.jsonl'"),
        (["--profile", "nosuch"], "no profile 'nosuch'"),
        (["--host-gib", "-1"], "--host-gib"),
        (["--sweep", "--sweep-gib", "8,4", "--trace", HEAD400, "--csv", str(tmp_path / "x.csv")],
         "strictly ascending"),
        (["--sweep", "--sweep-tier", "ram"], "--sweep-tier: 'ram' is not a tier"),
        (["--nodes", "2", "--replicas", "3", "--trace", HEAD400], "replicas: 3 is not in 1..2"),
        (["--connect", "x", "--materialize"], "exclude each other"),
    ]
    for args, want in cases:
        p = replay(*args, check=False)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert want in p.stderr, (args, p.stderr)
    nocompute = write(tmp_path, "n.conf", "name = n\nlayers = 1\nkv_heads = 1\nhead_dim = 16\n")
    p = replay("--profile", nocompute, "--trace", HEAD400, check=False)
    assert p.returncode == 2 and "has no compute model" in p.stderr
    # A trace that does not read is a data error (exit 1), named by file and line.
    p = replay("--block-tokens", "500", "--trace", HEAD400, check=False)
    assert p.returncode == 1 and "is --block-tokens right?" in p.stderr
    bad = write(tmp_path, "bad.jsonl", '{"timestamp": 0, "input_length": 4}\n')
    p = replay("--trace", bad, check=False)
    assert p.returncode == 1 and "bad.jsonl:1: hash_ids: missing required field" in p.stderr


def test_bandwidths_from_a_bench_report(tmp_path):
    report = write(tmp_path, "bench.json", json.dumps({"machine": "m", "results": [
        {"bench": "tiers", "name": "host_get_1MiB", "unit": "GB/s", "value": 12.5,
         "baseline_name": "memcpy", "baseline": 20, "ratio": 0.6},
        {"bench": "tiers", "name": "disk_read_1MiB", "unit": "GB/s", "value": 1.5,
         "baseline_name": "file_read", "baseline": 2, "ratio": 0.7}]}))
    r = replay_json("--trace", HEAD400, "--requests", "50", "--bandwidths-from", report)
    assert r["cost_model"]["host_gbps"] == 12.5 and r["cost_model"]["disk_gbps"] == 1.5
    assert r["cost_model"]["remote_gbps"] == 40
    p = replay("--bandwidths-from", write(tmp_path, "e.json", '{"results": []}'), check=False)
    assert p.returncode == 2 and "no host_get_1MiB" in p.stderr


def test_help_is_true():
    p = replay("--help")
    for flag in ("--trace", "--profile", "--format", "--device-gib", "--host-gib", "--disk-gib",
                 "--connect", "--json", "--materialize", "--sweep", "--nodes", "--gpu-tflops"):
        assert flag in p.stdout, flag


def test_disk_admission_policy_is_a_flag():
    args = ["--trace", HEAD400, "--host-gib", "4", "--disk-gib", "64"]
    strict = replay_json(*args)
    open_ = replay_json(*args, "--disk-admit-after-hits", "0")
    assert strict["disk_admit_after_hits"] == 1 and open_["disk_admit_after_hits"] == 0
    host_s, disk_s = strict["tiers"]
    host_o, disk_o = open_["tiers"]
    assert host_s["admissions_refused"] > 0 and host_o["admissions_refused"] == 0
    assert host_o["spills"] > host_s["spills"]
    assert open_["hit_blocks"] >= strict["hit_blocks"]
    p = replay("--disk-admit-after-hits", "x", check=False)
    assert p.returncode == 2 and "--disk-admit-after-hits" in p.stderr
