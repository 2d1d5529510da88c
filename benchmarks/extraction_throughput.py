"""Benchmark: feature extraction (``bridge.data.extract.extract``) against the model alone.

Target: extraction at least 90 % of the items/s of a bare loop that runs the
model's forward on pre-loaded inputs (decoded and preprocessed beforehand),
measured in the same run.

For each modality the script writes real media files into a temporary
folder (JPEG photos of ``--image-size``; WAV clips of ``--clip-seconds``
at ``--clip-rate``), builds the model through the encoder plugins' own MCR
classes with random weights (no download), and times, in rotating order,
``--repeats`` times each:

- model on pre-loaded inputs: the inputs prepared beforehand, stacked into
  batches on the device; the loop runs the forward pass (image or audio
  tower, projection, L2 normalisation) and copies the result to the CPU.
- decode alone: ``mcr.prepare`` on every file, one after the other, and in
  a plain ``ThreadPoolExecutor`` of ``--workers`` threads (what the cores
  decode per second right now: with the model, the bound for extraction).
- naive loop: per batch, decode the files one after the other, then encode.
- DataLoader loop: what a user writes by hand, a torch ``DataLoader`` with
  ``--workers`` worker processes decoding while the main process encodes.
- ``extract(...)`` with each ``--kinds`` of workers, on a cold cache (a new
  temporary cache folder every time): hashing, decoding in workers while
  the model encodes, writing the cache, assembling the result.

Throughput is the best of the repeats. The extracted embeddings are compared
with the bare loop's, so the two do the same work. The files were just
written, so they are read from the page cache, not from disk.

With a tiny model the forward pass costs almost nothing and decoding
dominates: the ratio then measures how many files the cores decode per
second, not the overhead of ``extract``. So the script also prints extract
against the bound min(model, decoding in threads), the naive loop and the
DataLoader loop.

Run::

    .venv/bin/python benchmarks/extraction_throughput.py                       # tiny CLIP + HTSAT-tiny CLAP, CPU
    .venv/bin/python benchmarks/extraction_throughput.py --model vit-b-32 --device cuda --precision amp \\
        --images 4096 --clips 512                                              # real sizes on a GPU
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
import torch.nn.functional as F

import _measure
from bridge.data.extract import extract
from bridge.data.sources import Item
from bridge.data.workers import default_workers

RATIO_TARGET = 0.90
ROOT = Path(__file__).resolve().parents[1]
TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
AUTOCAST = {"amp": torch.float16, "amp_bf16": torch.bfloat16}


@dataclass
class Subject:
    """One modality's model, its files, and the bare forward pass on a pre-stacked batch."""

    label: str
    modality: str
    mcr: Any
    items: list[Item]
    files: str
    forward: Callable[[list[Any]], torch.Tensor]
    autocast: Callable[[], Any]


# ----- media ------------------------------------------------------------------------------------


def write_photos(folder: Path, count: int, width: int, height: int) -> list[Item]:
    """``count`` photo-like JPEGs (smooth colour fields, edges, sensor noise), quality 90."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    items = []
    for index in range(count):
        base = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((width, height), Image.BICUBIC)
        draw = ImageDraw.Draw(base)
        for _ in range(6):
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            box = [x, y, x + int(rng.integers(20, width // 2)), y + int(rng.integers(20, height // 2))]
            draw.ellipse(box, fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        noisy = np.asarray(base, dtype=np.int16) + rng.normal(0, 5, (height, width, 3)).astype(np.int16)
        path = folder / f"photo{index:05d}.jpg"
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=90)
        items.append(Item(id=path.stem, value=str(path), is_file=True))
    return items


def write_clips(folder: Path, count: int, seconds: float, rate: int) -> list[Item]:
    """``count`` mono 16-bit WAV clips: a few tones plus noise."""
    import soundfile

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    time_axis = np.arange(int(seconds * rate)) / rate
    items = []
    for index in range(count):
        tones = sum(np.sin(2 * np.pi * rng.uniform(80, 4000) * time_axis) for _ in range(3))
        samples = 0.1 * tones + rng.normal(0, 0.05, time_axis.size)
        path = folder / f"clip{index:05d}.wav"
        soundfile.write(path, (samples / np.abs(samples).max() * 0.8).astype(np.float32), rate, subtype="PCM_16")
        items.append(Item(id=path.stem, value=str(path), is_file=True))
    return items


def describe_files(items: list[Item], kind: str, shape: str) -> str:
    size = np.mean([os.path.getsize(item.value) for item in items]) / 1024
    return f"{len(items):,} {kind} files, {shape}, {size:,.0f} KB on average"


# ----- models -----------------------------------------------------------------------------------


def autocast_for(device: str, precision: str) -> Callable[[], Any]:
    dtype = AUTOCAST.get(precision)
    if dtype is None or not device.startswith("cuda"):
        return nullcontext
    return lambda: torch.autocast(device_type="cuda", dtype=dtype)


def image_subject(
    model_name: str, items: list[Item], device: str, precision: str, batch: int | None, files: str, scratch: Path
) -> Subject:
    import open_clip
    from bridge_openclip.model import OpenClipMCR

    name = "ViT-B-32" if model_name == "vit-b-32" else "bridge-benchmark-tiny-clip"
    if model_name == "tiny":
        config = scratch / f"{name}.json"
        config.write_text(json.dumps(TINY_CLIP))
        open_clip.add_model_config(config)
    torch.manual_seed(0)
    logging.disable(logging.WARNING)  # open_clip's notice that no pretrained weights were loaded: that is the point
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=None)
    finally:
        logging.disable(logging.NOTSET)
    mcr = OpenClipMCR(
        f"open_clip:{name}/random", model, preprocess, open_clip.get_tokenizer(name), f"benchmark-random-{name}",
        precision=precision, batch_size=batch or 64,
    ).to(device)
    autocast = autocast_for(device, precision)

    def forward(batch_inputs: list[Any]) -> torch.Tensor:
        return F.normalize(mcr.model.encode_image(batch_inputs[0]).float(), dim=-1)

    label = "tiny open_clip (32 px, 2+2 layers)" if model_name == "tiny" else "open_clip ViT-B-32 (random weights)"
    return Subject(label, "image", mcr, items, files, forward, autocast)


def offline_hugging_face() -> Path:
    """A private, empty Hugging Face home, offline; set before anything imports huggingface_hub (open_clip does)."""
    hf_home = Path(tempfile.mkdtemp(prefix="bridge-bench-hf-"))
    os.environ.update(
        HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TRANSFORMERS_VERBOSITY="error",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
    )
    return hf_home


def audio_subject(items: list[Item], device: str, precision: str, batch: int | None, files: str, hf_home: Path) -> Subject:
    """HTSAT-tiny CLAP, random weights, its RoBERTa from stand-in Hugging Face files (as the tests build it)."""
    spec = importlib.util.spec_from_file_location("hf_standins", ROOT / "tests" / "encoders" / "hf_standins.py")
    standins = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(standins)  # type: ignore[union-attr]
    import transformers

    transformers.utils.logging.disable_progress_bar()
    standins.build_hf_standins(hf_home)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # laion_clap's imports raise timm and torch deprecation notices
        import laion_clap
    from bridge_laionclap.model import LaionClapMCR

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clap = laion_clap.CLAP_Module(enable_fusion=False, device="cpu", amodel="HTSAT-tiny", tmodel="roberta")
    text_module = importlib.import_module("laion_clap.training.data")
    mcr = LaionClapMCR(
        "laion_clap:HTSAT-tiny/random", clap, lambda text: text_module.tokenizer(text, tmodel="roberta"),
        "benchmark-random-htsat-tiny", fusion=False, batch_size=batch or 32,
    ).to(device)

    def forward(batch_inputs: list[Any]) -> torch.Tensor:
        model = mcr.model
        embedding = model.encode_audio(batch_inputs[0], device=mcr.device)["embedding"]
        return F.normalize(model.audio_projection(embedding).float(), dim=-1)

    return Subject("laion_clap HTSAT-tiny (random weights)", "audio", mcr, items, files, forward, autocast_for(device, precision))


def stacked(subject: Subject, inputs: list[Any]) -> list[Any]:
    """A batch of prepared inputs, stacked on the device as the model's forward takes them."""
    device = subject.mcr.device
    if subject.modality == "image":
        return [torch.stack(inputs).to(device)]
    return [{key: torch.stack([entry[key] for entry in inputs]).to(device) for key in inputs[0]}]


# ----- measurements -----------------------------------------------------------------------------


def bare_loop(subject: Subject, batches: list[list[Any]]) -> torch.Tensor:
    with torch.inference_mode(), subject.autocast():
        return torch.cat([subject.forward(batch).cpu() for batch in batches])


def decode_alone(subject: Subject) -> list[Any]:
    return [subject.mcr.prepare(subject.modality, item.value) for item in subject.items]


def decode_pooled(subject: Subject, workers: int) -> list[Any]:
    """Decoding alone in a plain thread pool: what the cores decode per second right now."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda item: subject.mcr.prepare(subject.modality, item.value), subject.items))


class Files(torch.utils.data.Dataset):
    """The files as a torch Dataset whose items are ``mcr.prepare``'s output."""

    def __init__(self, subject: Subject):
        self.mcr, self.modality, self.items = subject.mcr, subject.modality, subject.items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Any:
        return self.mcr.prepare(self.modality, self.items[index].value)


def as_list(batch: list[Any]) -> list[Any]:
    return batch


def dataloader_loop(subject: Subject, batch: int, workers: int) -> torch.Tensor:
    """A user's own pipelined loop: torch DataLoader worker processes decode, the main process encodes."""
    from torch.utils.data import DataLoader

    pin = subject.mcr.device.type == "cuda"
    loader = DataLoader(Files(subject), batch_size=batch, num_workers=workers, collate_fn=as_list, pin_memory=pin)
    with torch.inference_mode(), subject.autocast():
        return torch.cat([subject.mcr.encode(subject.modality, inputs).cpu() for inputs in loader])


def naive_loop(subject: Subject, batch: int) -> torch.Tensor:
    outputs = []
    mcr, modality = subject.mcr, subject.modality
    with torch.inference_mode(), subject.autocast():
        for start in range(0, len(subject.items), batch):
            inputs = [mcr.prepare(modality, item.value) for item in subject.items[start : start + batch]]
            outputs.append(mcr.encode(modality, inputs).cpu())
    return torch.cat(outputs)


def extracted(subject: Subject, workers: int, kind: str, items: list[Item] | None = None) -> np.ndarray:
    cache = Path(tempfile.mkdtemp(prefix="bridge-bench-cache-"))
    try:
        with subject.autocast():
            features = extract(subject.mcr, subject.modality, items or subject.items, cache, workers=workers, worker_kind=kind)
        return np.array(features.embeddings)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def measure(subject: Subject, workers: int, kinds: list[str], repeats: int, threads: int, precision: str) -> None:
    mcr = subject.mcr
    batch = max(1, int(mcr.batch_size(subject.modality)))
    count = len(subject.items)
    print(f"\n== {subject.modality}: {subject.label} on {mcr.device}, {precision}, batch {batch}", flush=True)
    print(f"{subject.files} (written just now: read from the page cache)")
    print(f"torch threads {threads}; decoding workers {workers} ({', '.join(kinds)}); best of {repeats} repeats")
    prepared = decode_alone(subject)
    batches = [stacked(subject, prepared[start : start + batch]) for start in range(0, count, batch)]
    warm = subject.items[:batch]
    bare_loop(subject, batches[:1])
    for kind in kinds:
        extracted(subject, workers, kind, warm)

    model, serial, pooled = "model on pre-loaded inputs", "decode alone, serial", f"decode alone, {workers} threads"
    naive, loader = "naive loop: decode serially, then encode", f"DataLoader loop: {workers} worker processes"
    runs = {kind: f"extract, {workers} {kind} (cold cache)" for kind in kinds}
    paths: dict[str, Callable[[], Any]] = {
        model: lambda: bare_loop(subject, batches),
        serial: lambda: decode_alone(subject),
        pooled: lambda: decode_pooled(subject, workers),
        naive: lambda: naive_loop(subject, batch),
        loader: lambda: dataloader_loop(subject, batch, workers),
        **{runs[kind]: (lambda kind=kind: extracted(subject, workers, kind)) for kind in kinds},
    }
    if workers == 0:
        del paths[pooled], paths[loader]
    names = list(paths)
    best: dict[str, float] = {name: float("inf") for name in names}
    results: dict[str, Any] = {}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            results[name] = paths[name]()
            best[name] = min(best[name], time.perf_counter() - start)
    rate = {name: count / best[name] for name in names}
    width = max(len(name) for name in names)
    for name in names:
        print(f"  {name:<{width}}  {rate[name]:>10,.1f} items/s  ({best[name]:.3f} s)")

    reference = results[model].numpy()
    tolerance = 1e-4 if precision == "fp32" else 2e-2
    for kind in kinds:
        difference = float(np.abs(results[runs[kind]] - reference).max())
        print(f"same work check ({kind}): max |extract - bare loop| {difference:.2e} (tolerance {tolerance:g}): "
              f"{_measure.verdict(difference <= tolerance)}")
    bound = min(rate[model], rate.get(pooled, rate[serial]))
    print(f"per item: decoding {1000 / rate[serial]:.2f} ms on one core, model {1000 / rate[model]:.3f} ms; "
          f"bound here = min(model, decoding in {max(workers, 1)} threads) = {bound:,.1f} items/s")
    for kind in kinds:
        extract_rate = rate[runs[kind]]
        against_loader = f", {extract_rate / rate[loader]:.2f}x the DataLoader loop" if loader in rate else ""
        print(f"  extract ({kind}): {extract_rate / rate[naive]:.2f}x the naive loop{against_loader}, {extract_rate / bound:.2f} of the bound")
    ratio = rate[runs[kinds[0]]] / rate[model]
    print(f"{subject.modality} throughput ratio {ratio:.2f} (extract with {kinds[0]} / model on pre-loaded inputs; "
          f"target ≥ {RATIO_TARGET:.2f}): {_measure.verdict(ratio >= RATIO_TARGET)}", flush=True)


@click.command()
@click.option("--modality", "modalities", default="image,audio", show_default=True, help="Comma-separated: image, audio.")
@click.option("--model", type=click.Choice(["tiny", "vit-b-32"]), default="tiny", show_default=True, help="Image model (random weights).")
@click.option("--device", default="cpu", show_default=True, help="Torch device of the models (cpu, cuda, cuda:N).")
@click.option("--precision", type=click.Choice(["fp32", "amp", "amp_bf16"]), default="fp32", show_default=True,
              help="Autocast on CUDA: amp = float16, amp_bf16 = bfloat16.")
@click.option("--images", type=click.IntRange(min=1), default=512, show_default=True, help="JPEG files.")
@click.option("--image-size", default="640x480", show_default=True, help="JPEG width x height.")
@click.option("--clips", type=click.IntRange(min=1), default=64, show_default=True, help="WAV files.")
@click.option("--clip-seconds", type=click.FloatRange(min=0.01), default=10.0, show_default=True, help="Seconds per clip.")
@click.option("--clip-rate", type=click.IntRange(min=1000), default=44_100, show_default=True, help="WAV sample rate (CLAP resamples to 48 kHz).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Items per batch (default: the plugins' defaults, 64 images, 32 clips).")
@click.option("--workers", type=click.IntRange(min=0), default=None, help="Decoding workers (default: extract's default, the usable cores up to 8).")
@click.option("--kinds", default="threads,processes", show_default=True, help="Worker kinds to time, comma-separated; the first gives the verdict.")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True, help="Timed runs of each path.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch CPU threads.")
def main(modalities, model, device, precision, images, image_size, clips, clip_seconds, clip_rate, batch_size, workers, kinds, repeats, threads) -> None:
    """Time extract(...) against the model's forward on pre-loaded inputs, a naive loop and decoding alone."""
    torch.set_num_threads(threads)
    workers = default_workers() if workers is None else workers
    kind_list = [kind.strip() for kind in kinds.split(",") if kind.strip()]
    width, height = (int(part) for part in image_size.lower().split("x"))
    root = Path(tempfile.mkdtemp(prefix="bridge-bench-media-"))
    hf_home = offline_hugging_face()
    print(f"torch {torch.__version__}, {len(os.sched_getaffinity(0))} usable CPU cores, device {device}"
          + (f" ({torch.cuda.get_device_name(torch.device(device))})" if device.startswith("cuda") else ""))
    try:
        for modality in [part.strip() for part in modalities.split(",") if part.strip()]:
            if modality == "image":
                items = write_photos(root / "photos", images, width, height)
                files = describe_files(items, "JPEG", f"{width}×{height}")
                subject = image_subject(model, items, device, precision, batch_size, files, root)
            elif modality == "audio":
                items = write_clips(root / "clips", clips, clip_seconds, clip_rate)
                files = describe_files(items, "WAV", f"{clip_seconds:g} s mono 16-bit at {clip_rate:,} Hz")
                subject = audio_subject(items, device, precision, batch_size, files, hf_home)
            else:
                raise click.BadParameter(f"unknown modality {modality!r}", param_hint="--modality")
            measure(subject, workers, kind_list, repeats, threads, precision)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(hf_home, ignore_errors=True)


if __name__ == "__main__":
    main()
