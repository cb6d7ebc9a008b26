"""bench/scorer_check.py at a tiny size: it builds a real package with lmplz/build_binary, times the plain load and
the checked one in their own processes, and writes a complete report. No timing is asserted."""
import json
import os
import subprocess
import sys

import stacks
from conftest import ROOT

BENCH = os.path.join(ROOT, "bench", "scorer_check.py")
pytestmark = stacks.only_on("tf1", "the bench times ds_ctcdecoder's plain load against the checked one")


def test_tiny_scorer_bench_builds_a_package_and_reports(tmp_path):
    output = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, BENCH, "--work_dir", str(tmp_path / "work"), "--tokens", "20000", "--vocabulary", "500",
         "--memory", "64M", "--rounds", "2", "--code", ROOT, "--code", ROOT, "--output", str(output)],
        cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "plain ds_ctcdecoder.Scorer load: median" in result.stdout
    assert result.stdout.count("load_scorer of {}: the checks add".format(ROOT)) == 2
    report = json.loads(output.read_text())
    package = str(tmp_path / "work" / "big.scorer")
    assert report["package"] == package and report["bytes"] == os.path.getsize(package)
    assert sorted(report["build"]) == ["build_binary_s", "corpus_s", "lmplz_s", "package_s"]
    assert sorted(os.listdir(str(tmp_path / "work"))) == ["big.scorer"]  # corpus, ARPA and binary removed
    assert len(report["plain_times_s"]) == len(report["plain_cpu_s"]) == 2
    for row in report["checked"]:
        assert row["code"] == ROOT and len(row["times_s"]) == len(row["cpu_s"]) == 2
        assert row["median_s"] > 0 and row["median_cpu_s"] > 0
    assert report["checked"][0]["ratio_to_first"] == 1.0
