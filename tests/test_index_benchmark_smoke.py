"""Smoke test: `benchmarks/index_search.py` still runs end to end at a tiny size and prints its verdict lines (no timing asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("faiss")
pytest.importorskip("pyarrow")

ROOT = Path(__file__).resolve().parents[1]


def test_index_benchmark_runs_and_prints_recall_and_queries_per_second():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "index_search.py"), "--n", "3000", "--dim", "16", "--latent", "8",
         "--centres", "30", "--queries", "40", "--single", "5", "--kind", "ivf", "--threads", "1"],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    output = completed.stdout
    assert re.search(r"index: IVF\d+,Flat, nprobe = \d+", output), output
    assert len(re.findall(r"recall@10 against exact: [\d.]+ \(target ≥ 0\.95\): (PASS|FAIL)", output)) == 2, output
    assert re.search(r"index \(IVF\d+,Flat\): [\d,]+ queries/s in one batch", output), output
