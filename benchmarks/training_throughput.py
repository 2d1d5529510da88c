"""Benchmark: projector training on cached features (``bridge.train.train_projectors``).

Target: at least 90 % of the throughput of a minimal hand-written PyTorch loop
doing the same work, measured in the same run.

The hand-written loop below uses no bridge code: the same two ``mlp2``
projectors (Linear → BatchNorm1d → ReLU → Linear → BatchNorm1d, then L2
normalisation), the same per-epoch shuffling, noise on the 4 inputs, 4
projector forwards, the same loss (inter overlap + inter pseudo + lambda ·
intra, symmetric InfoNCE) and an AdamW step. It seeds initialisation,
shuffling and noise as the engine does, so both compute the same numbers: the
script checks their mean losses agree, which shows the work is the same.

Two measurements, both in one process, each run's first epoch a warm-up that
is not timed; throughput is overlap items (rows, each fed through 4 projector
inputs) per second:

- alternating runs: each trains whole, ``--rounds`` times, alternating which
  goes first; the fastest timed epoch of each counts.
- interleaved steps: the engine trains once, and after each of its steps (its
  progress callback) the hand-written loop does one step. Both see the same
  load from other processes, so their ratio holds on a shared machine where
  whole epochs of identical work vary by 2x. The verdict uses this ratio.

Run::

    .venv/bin/python benchmarks/training_throughput.py                 # ~3 min on 2 idle cores
    .venv/bin/python benchmarks/training_throughput.py --n 300 --dim-a 32 --dim-b 24 --output-dim 16 \
        --batch-size 64 --rounds 1 --threads 1                          # smoke
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import click
import torch
from torch import nn
from torch.nn import functional as F

import _measure
from bridge.methods.enhance import TrainingSet
from bridge.recipes.schema import EnhanceConfig, ProjectorConfig, TrainingConfig
from bridge.methods.training import train_projectors

RATIO_TARGET = 0.90
LOSS_TOLERANCE = 1e-3  # relative; both sides do the same float32 operations in the same order


@dataclass(frozen=True)
class Settings:
    """One benchmark configuration."""

    n: int
    dim_a: int
    dim_b: int
    output_dim: int
    batch_size: int
    epochs: int
    rounds: int
    noise_sigma: float
    threads: int | None
    seed: int

    def projector(self) -> ProjectorConfig:
        return ProjectorConfig(architecture="mlp2", output_dim=self.output_dim)

    def training(self) -> TrainingConfig:
        return TrainingConfig(epochs=self.epochs, batch_size=self.batch_size, optimizer="adamw", seed=self.seed)

    @property
    def steps_per_epoch(self) -> int:
        """Optimiser steps in one epoch (a last batch of one row is dropped: BatchNorm needs two)."""
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest >= 2 else 0)

    @property
    def items_per_epoch(self) -> int:
        """Overlap rows trained on per epoch."""
        return self.n if self.n % self.batch_size != 1 else self.n - 1


def random_training_set(settings: Settings) -> TrainingSet:
    """Random L2-normalised features: ``(N, D_a)`` a and x, ``(N, D_b)`` b and y."""
    return TrainingSet(
        overlap_a=_measure.random_unit_rows(settings.n, settings.dim_a, settings.seed),
        overlap_b=_measure.random_unit_rows(settings.n, settings.dim_b, settings.seed + 1),
        pseudo_x=_measure.random_unit_rows(settings.n, settings.dim_a, settings.seed + 2),
        pseudo_y=_measure.random_unit_rows(settings.n, settings.dim_b, settings.seed + 3),
    )


# ---------------------------------------------------------------- the hand-written loop (no bridge code)


def hand_mlp2(input_dim: int, output_dim: int) -> nn.Sequential:
    """Linear(d, 2d) → BatchNorm1d → ReLU → Linear(2d, d_out) → BatchNorm1d."""
    hidden = 2 * input_dim
    return nn.Sequential(
        nn.Linear(input_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, output_dim), nn.BatchNorm1d(output_dim)
    )


def clip_loss(left: torch.Tensor, right: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE of ``(B, d)`` unit rows paired by index."""
    logits = left @ right.T / temperature
    targets = torch.arange(left.shape[0])
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def hand_written_steps(data: TrainingSet, settings: Settings) -> Iterator[float]:
    """The same training as the engine, written plainly; yields the loss after every step."""
    config = settings.training()
    a, b, x, y = data.overlap_a, data.overlap_b, data.pseudo_x, data.pseudo_y
    torch.manual_seed(config.seed)
    project_a = hand_mlp2(a.shape[1], settings.output_dim).train()
    project_b = hand_mlp2(b.shape[1], settings.output_dim).train()
    optimizer = torch.optim.AdamW(
        [*project_a.parameters(), *project_b.parameters()], lr=config.lr, weight_decay=config.weight_decay
    )
    for epoch in range(config.epochs):
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        order = torch.randperm(a.shape[0], generator=generator)
        for start in range(0, a.shape[0], config.batch_size):
            index = order[start : start + config.batch_size]
            if index.numel() < 2:
                break
            noisy = [
                F.normalize(t[index] + settings.noise_sigma * torch.randn(index.numel(), t.shape[1], generator=generator), dim=-1)
                for t in (a, b, x, y)
            ]
            out_a = F.normalize(project_a(noisy[0]), dim=-1)
            out_b = F.normalize(project_b(noisy[1]), dim=-1)
            out_x = F.normalize(project_a(noisy[2]), dim=-1)
            out_y = F.normalize(project_b(noisy[3]), dim=-1)
            inter = clip_loss(out_a, out_b, config.temperature) + clip_loss(out_x, out_y, config.temperature)
            intra = clip_loss(out_a, out_x, config.temperature) + clip_loss(out_b, out_y, config.temperature)
            loss = inter + config.intra_weight * intra
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            yield loss.item()


# ---------------------------------------------------------------- alternating whole runs


@dataclass(frozen=True)
class Timing:
    """One whole training run: seconds per epoch (the first is the warm-up), the whole call, the last epoch's mean loss."""

    epoch_seconds: list[float]
    total_seconds: float
    last_epoch_loss: float

    def items_per_second(self, settings: Settings) -> float:
        """Throughput of the fastest epoch after the warm-up (the least disturbed one)."""
        return settings.items_per_epoch / min(self.epoch_seconds[1:])


def epoch_seconds(clock: _measure.ClockReporter, settings: Settings) -> list[float]:
    """Wall time of each epoch from the per-step timestamps."""
    ends = [clock.seconds_at(epoch * settings.steps_per_epoch) for epoch in range(settings.epochs + 1)]
    return [later - earlier for earlier, later in itertools.pairwise(ends)]


def time_engine(data: TrainingSet, settings: Settings) -> Timing:
    """``bridge.train.train_projectors``, timed per epoch through its progress reporter."""
    clock = _measure.ClockReporter()
    start = time.perf_counter()
    result = train_projectors(data, settings.projector(), settings.training(), settings.noise_sigma, reporter=clock)
    total = time.perf_counter() - start
    return Timing(epoch_seconds(clock, settings), total, result.history[-1]["loss"])


def time_hand_written(data: TrainingSet, settings: Settings) -> Timing:
    """The hand-written loop, timed per epoch."""
    clock = _measure.ClockReporter()
    losses = []
    start = time.perf_counter()
    with clock.task("hand-written loop", total=None) as task:
        for loss in hand_written_steps(data, settings):
            losses.append(loss)
            task.advance(1)
    total = time.perf_counter() - start
    last_epoch = losses[-settings.steps_per_epoch :]
    return Timing(epoch_seconds(clock, settings), total, sum(last_epoch) / len(last_epoch))


def warm_up(data: TrainingSet, settings: Settings, runners: list[Callable[[TrainingSet, Settings], Timing]]) -> None:
    """One untimed short run of each on two batches: one-time costs (the optimiser's first
    construction imports ``torch._dynamo``, kernel and allocator set-up) land on neither side."""
    rows = min(len(data), 2 * settings.batch_size)
    subset = TrainingSet(data.overlap_a[:rows], data.overlap_b[:rows], data.pseudo_x[:rows], data.pseudo_y[:rows])
    small = Settings(**{**asdict(settings), "n": rows, "epochs": 2})
    for runner in runners:
        runner(subset, small)


def alternating_runs(data: TrainingSet, settings: Settings) -> dict[str, list[Timing]]:
    """``settings.rounds`` whole runs of each, alternating which goes first; prints each run."""
    runners = {"engine": time_engine, "hand-written": time_hand_written}
    warm_up(data, settings, list(runners.values()))
    timings: dict[str, list[Timing]] = {name: [] for name in runners}
    for round_index in range(settings.rounds):
        order = list(runners) if round_index % 2 == 0 else list(reversed(runners))
        for name in order:
            timing = runners[name](data, settings)
            timings[name].append(timing)
            epochs = ", ".join(f"{seconds:.2f}" for seconds in timing.epoch_seconds)
            print(
                f"  round {round_index + 1} {name:>12}: epochs [{epochs}] s, whole call {timing.total_seconds:.2f} s",
                flush=True,
            )
    return timings


# ---------------------------------------------------------------- interleaved steps


@dataclass
class InterleavedSteps:
    """A progress reporter for the engine that runs one hand-written step after each engine step.

    Attributes:
        engine_seconds / hand_seconds: wall time of each step of each side (epoch setup such as
            the shuffle is inside the first step of its epoch, on both sides).
        hand_losses: the hand-written loop's loss after each step.
    """

    hand_steps: Iterator[float]
    engine_seconds: list[float] = field(default_factory=list)
    hand_seconds: list[float] = field(default_factory=list)
    hand_losses: list[float] = field(default_factory=list)
    _resumed: float = 0.0

    @contextmanager
    def task(self, description: str, total: float | None) -> Iterator[InterleavedSteps]:
        self._resumed = time.perf_counter()
        yield self

    def advance(self, amount: float = 1) -> None:
        if amount == 0:
            return
        paused = time.perf_counter()
        self.engine_seconds.append(paused - self._resumed)
        self.hand_losses.append(next(self.hand_steps))
        self._resumed = time.perf_counter()
        self.hand_seconds.append(self._resumed - paused)

    def message(self, text: str) -> None:
        print(text, flush=True)


def interleaved_steps(data: TrainingSet, settings: Settings) -> tuple[InterleavedSteps, float]:
    """Train the engine once with the hand-written loop stepping in its progress callback.

    Returns:
        The per-step times and the engine's last-epoch mean loss.
    """
    interleaved = InterleavedSteps(hand_written_steps(data, settings))
    result = train_projectors(data, settings.projector(), settings.training(), settings.noise_sigma, reporter=interleaved)
    return interleaved, result.history[-1]["loss"]


# ---------------------------------------------------------------- the comparison


def _same_work_line(engine_loss: float, hand_loss: float) -> str:
    gap = abs(engine_loss - hand_loss) / max(abs(hand_loss), 1e-12)
    return (
        f"same work check: last-epoch mean loss engine {engine_loss:.6f}, hand-written {hand_loss:.6f}, "
        f"relative difference {gap:.1e} (tolerance {LOSS_TOLERANCE:g}): {_measure.verdict(gap <= LOSS_TOLERANCE)}"
    )


def compare(settings: Settings) -> None:
    """Run both measurements and print the throughputs, the ratios and the checks."""
    data = random_training_set(settings)
    print("alternating whole runs:", flush=True)
    timings = alternating_runs(data, settings)
    best = {name: max(t.items_per_second(settings) for t in runs) for name, runs in timings.items()}
    alternating_ratio = best["engine"] / best["hand-written"]
    print(
        f"  engine {best['engine']:,.0f} items/s, hand-written {best['hand-written']:,.0f} items/s "
        f"(fastest timed epoch of {settings.rounds} runs each)"
    )
    whole_ratio = min(t.total_seconds for t in timings["hand-written"]) / min(t.total_seconds for t in timings["engine"])
    print(f"  whole-call ratio (setup and warm-up epoch included): {whole_ratio:.2f}")
    print(f"  {_same_work_line(timings['engine'][0].last_epoch_loss, timings['hand-written'][0].last_epoch_loss)}")
    print(
        f"alternating-runs ratio {alternating_ratio:.2f} (target ≥ {RATIO_TARGET:.2f}): "
        f"{_measure.verdict(alternating_ratio >= RATIO_TARGET)}",
        flush=True,
    )

    print("interleaved steps (one hand-written step after each engine step):", flush=True)
    steps, engine_loss = interleaved_steps(data, settings)
    warm = settings.steps_per_epoch
    timed_items = settings.items_per_epoch * (settings.epochs - 1)
    engine_rate = timed_items / sum(steps.engine_seconds[warm:])
    hand_rate = timed_items / sum(steps.hand_seconds[warm:])
    print(f"engine: {engine_rate:,.0f} items/s (warm-up epoch excluded)")
    print(f"hand-written: {hand_rate:,.0f} items/s (warm-up epoch excluded)")
    print(_same_work_line(engine_loss, sum(steps.hand_losses[-warm:]) / warm))
    ratio = engine_rate / hand_rate
    print(
        f"throughput ratio {ratio:.2f} (interleaved steps; target ≥ {RATIO_TARGET:.2f}): {_measure.verdict(ratio >= RATIO_TARGET)}"
    )


@click.command()
@click.option("--n", "n", type=click.IntRange(min=2), default=20_000, show_default=True, help="Overlap rows N.")
@click.option("--dim-a", type=click.IntRange(min=1), default=512, show_default=True, help="Feature dimension of MCR A.")
@click.option("--dim-b", type=click.IntRange(min=1), default=512, show_default=True, help="Feature dimension of MCR B.")
@click.option("--output-dim", type=click.IntRange(min=1), default=512, show_default=True, help="Joint space dimension.")
@click.option("--batch-size", type=click.IntRange(min=2), default=1024, show_default=True, help="Rows per step.")
@click.option(
    "--epochs", type=click.IntRange(min=2), default=2, show_default=True, help="Epochs per run (the first is a warm-up)."
)
@click.option("--rounds", type=click.IntRange(min=1), default=2, show_default=True, help="Runs of each, alternating order.")
@click.option("--noise-sigma", type=float, default=EnhanceConfig().noise_sigma, show_default=True, help="Completion noise.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch threads (default: torch's default).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of data, initialisation, shuffling and noise.")
def main(n, dim_a, dim_b, output_dim, batch_size, epochs, rounds, noise_sigma, threads, seed) -> None:
    """Compare bridge.train.train_projectors with a minimal hand-written PyTorch loop doing the same work."""
    if threads is not None:
        torch.set_num_threads(threads)
    settings = Settings(n, dim_a, dim_b, output_dim, batch_size, epochs, rounds, noise_sigma, threads, seed)
    print("training throughput:", ", ".join(f"{key}={value}" for key, value in asdict(settings).items()), flush=True)
    print(f"threads: {torch.get_num_threads()}; {settings.steps_per_epoch} steps per epoch", flush=True)
    compare(settings)


if __name__ == "__main__":
    main()
