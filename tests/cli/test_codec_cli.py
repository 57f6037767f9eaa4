"""End-to-end tests of `kvstash codec` through the real binary.

The NVFP4 recipe is re-implemented here in numpy by brute force (nearest
representable value, ties to the even code) as an independent check of the
C++ codec's bits. Run: KVSTASH_BIN=build/default/tools/kvstash pytest tests/cli
"""
import json
import os
import struct
import subprocess

import numpy as np
import pytest

BIN = os.environ.get("KVSTASH_BIN", "build/default/tools/kvstash")

E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], dtype=np.float64)


def e4m3_values():
    vals = []
    for code in range(0x7F):  # 0x7F is NaN
        e, m = code >> 3, code & 7
        vals.append(m * 2.0**-9 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7))
    return np.array(vals)


E4M3 = e4m3_values()


def round_to_table(x, table):
    """Nearest entry of a sorted non-negative table, ties to the even index."""
    a = np.minimum(np.abs(x.astype(np.float64)), table[-1])
    idx = np.searchsorted(table, a)
    idx = np.clip(idx, 1, len(table) - 1)
    lo, hi = table[idx - 1], table[idx]
    pick_hi = (a - lo > hi - a) | ((a - lo == hi - a) & (idx % 2 == 0))
    return np.where(pick_hi, idx, idx - 1)


def nvfp4_reference(x, g_dec):
    f32 = np.float32
    blocks = x.reshape(-1, 16)
    vmax = np.abs(blocks).max(axis=1).astype(f32)
    g_enc = f32(1) / f32(g_dec)
    sf = round_to_table((vmax / f32(6)) * g_enc, E4M3)
    sfv = E4M3[sf].astype(f32)
    with np.errstate(divide="ignore"):
        os_ = np.where(sfv == 0, f32(0), f32(1) / (sfv * f32(g_dec))).astype(f32)
    y = (blocks * os_[:, None]).astype(f32)
    codes = round_to_table(y, E2M1) | np.where(np.signbit(y), 8, 0)
    packed = (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)
    return packed.reshape(-1), sf.astype(np.uint8)


def run(*args, check=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture
def tensor(tmp_path):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((64, 128)) * np.linspace(0.01, 30, 128)).astype(np.float32)
    path = tmp_path / "x.f32"
    x.tofile(path)
    return x, path


def test_nvfp4_encode_matches_numpy_and_prints_scale(tensor, tmp_path):
    x, path = tensor
    out = run("codec", "encode", "--format", "nvfp4", "--in", str(path), "--dtype", "f32",
              "--cols", "128", "--out-data", str(tmp_path / "d"), "--out-scales",
              str(tmp_path / "s"), "--json")
    report = json.loads(out.stdout)
    g = np.float32(np.abs(x).max()) / np.float32(2688)
    assert report["g_dec_bits"] == "0x%08x" % struct.unpack("<I", struct.pack("<f", g))[0]
    assert report["rows"] == 64 and report["cols"] == 128
    data = np.fromfile(tmp_path / "d", dtype=np.uint8)
    scales = np.fromfile(tmp_path / "s", dtype=np.uint8)
    assert data.size == 64 * 64 and scales.size == 64 * 8
    ref_data, ref_scales = nvfp4_reference(x, g)
    np.testing.assert_array_equal(scales, ref_scales)
    np.testing.assert_array_equal(data, ref_data)
    assert 15 < report["sqnr_db"] < 25


def test_decode_round_trip_and_reference_error(tensor, tmp_path):
    x, path = tensor
    enc = json.loads(run("codec", "encode", "--format", "nvfp4", "--in", str(path), "--dtype",
                         "f32", "--cols", "128", "--out-data", str(tmp_path / "d"),
                         "--out-scales", str(tmp_path / "s"), "--json").stdout)
    dec = json.loads(run("codec", "decode", "--format", "nvfp4", "--in-data", str(tmp_path / "d"),
                         "--in-scales", str(tmp_path / "s"), "--cols", "128", "--global-scale",
                         enc["g_dec_bits"], "--out", str(tmp_path / "y"), "--reference",
                         str(path), "--json").stdout)
    assert dec["rel_rmse"] == pytest.approx(enc["rel_rmse"], rel=1e-12)
    y = np.fromfile(tmp_path / "y", dtype=np.float32).reshape(64, 128)
    assert np.abs(y - x).max() <= np.abs(x).max() / 4


@pytest.mark.parametrize("fmt,dtype", [("mxfp4", "bf16"), ("fp8_e4m3", "f16"), ("bf16", "f32")])
def test_other_formats(tensor, tmp_path, fmt, dtype):
    x, _ = tensor
    src = tmp_path / "in"
    if dtype == "bf16":
        (x.view(np.uint32) >> 16).astype(np.uint16).tofile(src)
    elif dtype == "f16":
        x.astype(np.float16).tofile(src)
    else:
        x.tofile(src)
    args = ["codec", "encode", "--format", fmt, "--in", str(src), "--dtype", dtype, "--cols",
            "128", "--out-data", str(tmp_path / "d"), "--json"]
    if fmt == "mxfp4":
        args += ["--out-scales", str(tmp_path / "s"), "--mx-scale", "rceil"]
    report = json.loads(run(*args).stdout)
    assert report["sqnr_db"] > 15
    assert ("g_dec" in report) == (fmt == "fp8_e4m3")


@pytest.mark.parametrize("extra,needle", [
    (["--in", "/nonexistent/x"], "/nonexistent/x"),
    (["--dtype", "int8"], "unknown dtype 'int8'"),
    (["--cols", "8"], "block size 16"),
    (["--cols", "24"], "not a multiple of cols 24"),
    (["--cols", "abc"], "--cols"),
    (["--format", "nvfp5"], "unknown format 'nvfp5'"),
    (["--global-scale", "-3"], "positive finite"),
])
def test_bad_input_fails_clearly(tensor, tmp_path, extra, needle):
    _, path = tensor
    args = {"--format": "nvfp4", "--in": str(path), "--dtype": "f32", "--cols": "128",
            "--out-data": str(tmp_path / "d"), "--out-scales": str(tmp_path / "s")}
    for k, v in zip(extra[::2], extra[1::2]):
        args[k] = v
    p = run("codec", "encode", *[t for kv in args.items() for t in kv], check=False)
    assert p.returncode != 0
    assert needle in p.stderr
    assert not (tmp_path / "d").exists()


def test_nan_policy(tmp_path):
    x = np.ones(64, dtype=np.float32)
    x[20] = np.nan
    x.tofile(tmp_path / "x")
    base = ["codec", "encode", "--format", "nvfp4", "--in", str(tmp_path / "x"), "--dtype",
            "f32", "--cols", "32", "--out-data", str(tmp_path / "d"), "--out-scales",
            str(tmp_path / "s"), "--json"]
    p = run(*base, check=False)
    assert p.returncode == 2 and "element 20 (row 0, col 20) is NaN" in p.stderr
    report = json.loads(run(*base, "--nan", "poison").stdout)
    assert report["poisoned_blocks"] == 1
    assert list(np.fromfile(tmp_path / "s", dtype=np.uint8))[1] == 0x7F


def test_help_is_true():
    top = run("--help").stdout
    assert "codec" in top and "bench" in top
    enc = run("codec", "encode", "--help").stdout
    for flag in ["--format", "--in", "--dtype", "--cols", "--global-scale", "--mx-scale",
                 "--out-data", "--out-scales", "--json"]:
        assert flag in enc
    assert run("bogus", check=False).returncode == 2
