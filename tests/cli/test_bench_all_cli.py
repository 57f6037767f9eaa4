"""`kvstash bench` with no subcommand: every selected family as a child
process, one merged report. Checks shapes, exit codes and messages; never
durations or throughput.

Run: KVSTASH_BIN=build/default/tools/kvstash pytest tests/cli/test_bench_all_cli.py
"""
import json
import os
import shutil
import subprocess

BIN = os.path.abspath(os.environ.get("KVSTASH_BIN", "build/default/tools/kvstash"))
FAMILIES = {"codec", "tiers", "service", "router", "transport"}
RESULT_KEYS = {"bench", "name", "unit", "value", "baseline_name", "baseline", "ratio"}


def kvstash(*args, binary=BIN, env=None):
    return subprocess.run([binary, *args], capture_output=True, text=True, env=env)


def check_report(report, families):
    assert isinstance(report["machine"], str) and report["machine"]
    assert report["results"], "no results"
    for r in report["results"]:
        assert set(r) == RESULT_KEYS, r
        assert r["bench"] in families, r
        assert isinstance(r["name"], str) and r["name"]
        for key in ("value", "baseline", "ratio"):
            assert isinstance(r[key], (int, float)), r
    assert {r["bench"] for r in report["results"]} == families


def test_only_router_tiers_json():
    p = kvstash("bench", "--only", "router,tiers", "--json")
    assert p.returncode == 0, p.stderr
    check_report(json.loads(p.stdout), {"router", "tiers"})
    # Families run in the fixed order, with their settings and seconds on stderr.
    assert "bench: [1/2] tiers (" in p.stderr
    assert "bench: [2/2] router (" in p.stderr
    assert "bench: [2/2] router done in " in p.stderr


def test_unknown_family_is_a_usage_error_naming_it():
    for flag in ("--only", "--skip"):
        p = kvstash("bench", flag, "nosuch")
        assert p.returncode == 2, p.stderr
        assert "nosuch" in p.stderr
        assert flag in p.stderr
        assert p.stdout == ""


def test_help_describes_the_run_all_mode():
    for args in (["bench", "--help"], ["bench", "all", "--help"]):
        p = kvstash(*args)
        assert p.returncode == 0, p.stderr
        for word in ("--only", "--skip", "--full", "--json", "FAILED", *FAMILIES):
            assert word in p.stdout, word
    p = kvstash("--help")
    assert "no subcommand runs them all" in p.stdout


def test_a_failed_family_does_not_stop_the_others(tmp_path):
    # A copy of kvstash with no kvstash_codec_bench next to it or on PATH:
    # the codec family fails to start its benchmark binary, router still runs.
    lonely = tmp_path / "kvstash"
    try:
        os.link(BIN, lonely)
    except OSError:
        shutil.copy2(BIN, lonely)
    env = dict(os.environ, PATH="/usr/bin:/bin")
    p = kvstash("bench", "all", "--only", "codec,router", "--json", binary=str(lonely), env=env)
    assert p.returncode == 1, p.stderr
    check_report(json.loads(p.stdout), {"router"})
    assert "bench: [1/2] codec FAILED" in p.stderr
    assert "cannot run kvstash_codec_bench" in p.stderr  # the child's stderr tail
    assert "# codec: FAILED: exited with status 1" in p.stderr
    assert "failed: codec" in p.stderr


def test_table_has_a_bench_column():
    p = kvstash("bench", "--only", "router")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split()[:2] == ["bench", "benchmark"], lines[0]
    rows = [line for line in lines[1:] if not line.startswith("#")]
    assert rows and all(line.split()[0] == "router" for line in rows), p.stdout
