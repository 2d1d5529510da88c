"""Smoke tests: the benchmark scripts still run end to end and print their verdict lines.

Tiny sizes, one thread; no timing is asserted (timings belong to the scripts'
own runs). The correctness checks the scripts print (streamed result against
the dense softmax, engine loss against the hand-written loop's) are asserted:
they guard that each benchmark still measures the work it claims to.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
VERDICT = r"(PASS|FAIL)"


def _run(script: str, *arguments: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=BENCHMARKS.parent,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def _number(pattern: str, output: str) -> float:
    match = re.search(pattern, output)
    assert match is not None, f"no line matching {pattern!r} in:\n{output}"
    return float(match.group(1).replace(",", ""))


def test_consistency_benchmark_runs_and_prints_its_verdicts():
    output = _run(
        "consistency_throughput.py",
        *("--n", "1500", "--m", "900", "--dim", "32", "--chunk-size", "256", "--query-chunk-size", "500"),
        *("--query-chunks", "2", "--threads", "1"),
    )
    assert "aggregated 1,000 query rows against 900 memory rows" in output
    assert "sampled run: the full N = 1,500" in output
    assert re.search(r"500/1,000 query rows in .* ETA for the rest", output)
    assert _number(r"memory_aggregate: ([\d.]+) GFLOP/s", output) > 0
    assert _number(r"torch float32 matmul.*: ([\d.]+) GFLOP/s over 2 samples", output) > 0
    assert re.search(r"check against the dense softmax on 8 rows: .*: PASS", output), output
    assert re.search(rf"peak RSS .*[\d.]+ GB \(target < 1.5 GB\): {VERDICT}", output)
    assert re.search(rf"throughput ratio [\d.]+ \(target ≥ 0\.90\): {VERDICT}", output)
    assert "inputs read from .npy files chunk by chunk" in output


def test_training_benchmark_runs_and_prints_its_verdicts():
    output = _run(
        "training_throughput.py",
        *("--n", "300", "--dim-a", "32", "--dim-b", "24", "--output-dim", "16", "--batch-size", "64"),
        *("--epochs", "2", "--rounds", "1", "--threads", "1"),
    )
    assert "5 steps per epoch" in output
    assert _number(r"engine: ([\d,]+) items/s", output) > 0
    assert _number(r"hand-written: ([\d,]+) items/s", output) > 0
    assert len(re.findall(r"same work check: .*: PASS", output)) == 2, output  # alternating runs and interleaved steps
    assert re.search(rf"alternating-runs ratio [\d.]+ \(target ≥ 0\.90\): {VERDICT}", output)
    assert re.search(rf"throughput ratio [\d.]+ \(interleaved steps; target ≥ 0\.90\): {VERDICT}", output)


def test_extraction_benchmark_runs_and_prints_its_verdicts():
    import importlib.util

    import pytest

    for module in ("open_clip", "laion_clap", "soundfile", "librosa", "bridge_openclip", "bridge_laionclap"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install 'mcr-bridge[clip,clap]')")
    output = _run(
        "extraction_throughput.py",
        *("--images", "6", "--clips", "2", "--clip-seconds", "0.5", "--batch-size", "2", "--workers", "2"),
        *("--kinds", "threads,processes", "--repeats", "1", "--threads", "1"),
    )
    for modality in ("image", "audio"):
        section = output.split(f"== {modality}:", 1)[1].split("\n== ", 1)[0]
        for path in ("model on pre-loaded inputs", "decode alone, serial", "decode alone, 2 threads",
                     "naive loop: decode serially, then encode", "DataLoader loop: 2 worker processes",
                     "extract, 2 threads (cold cache)", "extract, 2 processes (cold cache)"):
            assert _number(rf"{re.escape(path)}\s+([\d,.]+) items/s", section) > 0
        assert len(re.findall(r"same work check \((threads|processes)\): .*: PASS", section)) == 2, section
        assert re.search(r"extract \(threads\): [\d.]+x the naive loop, [\d.]+x the DataLoader loop, [\d.]+ of the bound", section)
        assert re.search(rf"{modality} throughput ratio [\d.]+ \(extract with threads .*target ≥ 0\.90\): {VERDICT}", section)
    assert "6 JPEG files, 640×480" in output and "2 WAV files, 0.5 s mono 16-bit at 44,100 Hz" in output


@pytest.mark.parametrize("source", ["synthworld", "webdataset"])
def test_extraction_scaling_benchmark_runs_and_compares_the_caches(source):
    if source == "webdataset":
        pytest.importorskip("webdataset")
    output = _run("extraction_scaling.py", "--images", "40", "--clips", "20", "--repeats", "1", "--source", source)
    assert f"from {source}" in output
    for label in ("1 process x 1 thread", "2 processes x 1 thread", "1 process, default threads"):
        assert _number(rf"{re.escape(label)}: [\d.]+ s in rank 0 \(([\d,]+) items/s; opening [\d.]+, listing [\d.]+, encoding [\d.]+", output) > 0
    assert re.search(r"2 processes x 1 thread: .*encoding [\d.]+, waiting [\d.]+ s\)", output), output
    assert re.search(rf"2 processes / 1 process: [\d.]+x in rank 0's time, [\d.]+x in wall time \(target >= 1\.7\): {VERDICT}", output)
    assert re.search(r"by part, 1 process -> rank 0 of 2: opening [\d.]+ -> [\d.]+ s, listing [\d.]+ -> [\d.]+ s \([\d.]+x\), "
                     r"encoding [\d.]+ -> [\d.]+ s \([\d.]+x; each process encodes its half at [\d.]+ of one process alone\)", output), output
    assert re.search(r"cache contents identical \([\d,]+ embeddings, .*\): PASS", output), output


def test_world_generation_benchmark_runs_and_prints_its_verdicts():
    output = _run("world_generation.py", "--count", "20")
    for modality in ("image", "audio"):
        assert re.search(rf"{modality}: \d+ items/s per core with files .* target 1000: {VERDICT}", output), output


def test_cloud_generation_benchmark_runs_and_prints_its_verdict():
    output = _run("cloud_generation.py", "--count", "50")
    assert re.search(rf"{VERDICT}: rendered \+ written", output)
    assert _number(r"rendering: +([\d,]+) clouds", output) > 0


def test_gpu_softmax_variants_runs_on_the_cpu_and_agrees_with_eager():
    output = _run("gpu_softmax_variants.py", "--device", "cpu", "--queries", "32", "--memory", "512", "--dim", "16", "--chunk", "128")
    assert re.search(r"two matmuls alone: [\d.]+ TFLOP/s", output), output
    for name in ("ones column", "SDPA", "compiled step"):
        difference = float(re.search(rf"{name}: .*max \|difference\| ([\d.e+-]+)", output).group(1))
        assert difference < 1e-4, (name, output)
