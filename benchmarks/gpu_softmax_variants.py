"""GPU experiment: four ways to run one query chunk of the streamed softmax aggregation, against the matmuls alone.

The consistency step ``softmax(Q·Mᵀ/τ)·M`` streams the memory in chunks; per
chunk, two matmuls do the arithmetic and a softmax step (row max, exp, row
sum) makes elementwise passes over the ``(n, chunk)`` scores. On a GPU those
passes are memory-bound and cost a visible share of the matmuls' time. This
script times, on one query chunk against a memory of ``--memory`` rows (best
of 3, float32, TF32 off):

- the two matmuls alone (the reference rate);
- eager: `memory_aggregate(..., fused=False)`, four elementwise passes per chunk (its CPU path);
- ones column: the row sums folded into the second matmul;
- SDPA: ``F.scaled_dot_product_attention`` over the whole memory;
- compiled: `memory_aggregate(..., fused=True)`, the softmax step as one
  ``torch.compile``d kernel (its default on CUDA).

Each variant's result is compared with the eager one. Meant for CUDA;
``--device cpu`` runs it on the CPU (slow; for checking that it runs).

    python3 benchmarks/gpu_softmax_variants.py        # ~30 s on an H200
"""

from __future__ import annotations

import time

import click
import torch
import torch.nn.functional as F

from bridge.methods.consistency import memory_aggregate


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_of(function, device: torch.device, repeats: int = 3) -> tuple[float, torch.Tensor]:
    result = function()
    _synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        _synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best, result


@click.command()
@click.option("--queries", type=int, default=4096, show_default=True, help="Query rows (one query chunk).")
@click.option("--memory", type=int, default=262_144, show_default=True, help="Memory rows.")
@click.option("--dim", type=int, default=512, show_default=True)
@click.option("--chunk", type=int, default=8192, show_default=True, help="Memory rows per chunk.")
@click.option("--temperature", type=float, default=0.01, show_default=True)
@click.option("--device", "device_name", default="cuda", show_default=True, help="Torch device (cuda, cuda:N; cpu to check it runs).")
def main(queries: int, memory: int, dim: int, chunk: int, temperature: float, device_name: str) -> None:
    """Time the softmax-step variants against the two matmuls alone on one device."""
    device = torch.device(device_name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise click.ClickException("--device cuda: torch sees no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False
    generator = torch.Generator(device=device).manual_seed(0)
    q = F.normalize(torch.randn(queries, dim, device=device, generator=generator), dim=1)
    m = F.normalize(torch.randn(memory, dim, device=device, generator=generator), dim=1)
    flops = 4 * queries * memory * dim

    def matmuls_only() -> torch.Tensor:
        scores, accumulator = torch.empty(queries, chunk, device=device), torch.zeros(queries, dim, device=device)
        for start in range(0, memory, chunk):
            block = m[start : start + chunk]
            torch.matmul(q, block.T, out=scores)
            accumulator.addmm_(scores, block)
        return accumulator

    def streamed(fused: bool) -> torch.Tensor:  # the code under test, one query chunk
        return memory_aggregate(q, m, temperature, chunk_size=chunk, query_chunk_size=queries, device=device, fused=fused)

    def ones_column() -> torch.Tensor:
        scaled = q / temperature
        running_max = torch.full((queries, 1), float("-inf"), device=device)
        accumulator = torch.zeros(queries, dim + 8, device=device)  # column dim: the row sums; padded to 8
        scores = torch.empty(queries, chunk, device=device)
        extended = torch.zeros(chunk, dim + 8, device=device)
        extended[:, dim] = 1
        for start in range(0, memory, chunk):
            extended[:, :dim] = F.normalize(m[start : start + chunk], dim=1)
            torch.matmul(scaled, extended[:, :dim].T, out=scores)
            new_max = torch.maximum(running_max, scores.amax(1, keepdim=True))
            rescale = torch.exp(running_max - new_max)
            scores.sub_(new_max).exp_()
            accumulator.mul_(rescale).addmm_(scores, extended)
            running_max = new_max
        return accumulator[:, :dim] / accumulator[:, dim : dim + 1]

    def sdpa() -> torch.Tensor:
        return F.scaled_dot_product_attention(q[None], m[None], m[None], scale=1 / temperature)[0]

    reference_seconds, _ = _best_of(matmuls_only, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"{name}: {queries:,} queries x {memory:,} memory rows, D = {dim}, chunk {chunk:,}")
    print(f"  two matmuls alone: {flops / reference_seconds / 1e12:.1f} TFLOP/s")
    eager_seconds, eager = _best_of(lambda: streamed(False), device)
    print(f"  eager softmax step: {flops / eager_seconds / 1e12:.1f} TFLOP/s, ratio {reference_seconds / eager_seconds:.3f}")
    for name, variant in (("ones column", ones_column), ("SDPA", sdpa), ("compiled step", lambda: streamed(True))):
        try:
            seconds, result = _best_of(variant, device)
        except Exception as error:  # noqa: BLE001 - an experiment: report the variant that cannot run, go on
            print(f"  {name}: failed ({type(error).__name__}: {str(error)[:200]})")
            continue
        difference = (result - eager).abs().max().item()
        print(f"  {name}: {flops / seconds / 1e12:.1f} TFLOP/s, ratio {reference_seconds / seconds:.3f}, max |difference| {difference:.1e}")


if __name__ == "__main__":
    main()
