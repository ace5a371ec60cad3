"""The callgrind mode's totals cache: reuse only what the fingerprint vouches for."""

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import bench_callgrind  # noqa: E402


def test_cache_keeps_totals_across_instances(tmp_path: Path) -> None:
    cache = bench_callgrind.TotalsCache(tmp_path)
    key = cache.key("hello", "flagstone", 220, "abc")
    assert cache.get(key) is None
    cache.put(key, 123_456)
    again = bench_callgrind.TotalsCache(tmp_path)
    assert again.get(key) == 123_456
    assert again.get(cache.key("hello", "flagstone", 220, "abd")) is None
    assert again.get(cache.key("hello", "flagstone", 20, "abc")) is None


def test_no_directory_means_nothing_is_stored() -> None:
    cache = bench_callgrind.TotalsCache(None)
    cache.put("k", 1)
    assert cache.path is None


def test_fingerprint_is_stable_and_per_toolkit() -> None:
    raw = bench_callgrind.fingerprint("raw")
    assert raw == bench_callgrind.fingerprint("raw")
    assert raw != bench_callgrind.fingerprint("flagstone")
    assert raw != bench_callgrind.fingerprint("starlette")


def test_flagstone_fingerprint_follows_package_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A copy of the harness under a fake repository whose one package source can change.
    bench = tmp_path / "tools" / "bench"
    bench.mkdir(parents=True)
    for name in (*bench_callgrind._HARNESS, "apps_flagstone.py", "apps_raw.py"):
        (bench / name).write_bytes((BENCH / name).read_bytes())
    source = tmp_path / "packages" / "asgi-x" / "src" / "x" / "a.py"
    source.parent.mkdir(parents=True)
    source.write_text("A = 1\n")
    monkeypatch.setattr(bench_callgrind, "HERE", bench)
    monkeypatch.setattr(bench_callgrind, "REPO", tmp_path)
    before = {kit: bench_callgrind.fingerprint(kit) for kit in ("raw", "flagstone")}
    source.write_text("A = 2\n")
    after = {kit: bench_callgrind.fingerprint(kit) for kit in ("raw", "flagstone")}
    assert after["raw"] == before["raw"]
    assert after["flagstone"] != before["flagstone"]
