import numpy as np
import pytest
import torch
from torch.nn import functional as F

from bridge.methods.consistency import dense_memory_aggregate, memory_aggregate


def _unit(rows: int, dim: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(rows, dim, generator=generator), dim=-1)


@pytest.mark.parametrize("temperature", [0.005, 0.01, 0.1, 1.0])
@pytest.mark.parametrize("chunk_size, query_chunk_size", [(1, 7), (37, 64), (1000, 1000), (4096, 5)])
def test_chunked_online_softmax_equals_dense(temperature, chunk_size, query_chunk_size):
    queries, memory = _unit(130, 24, 0), _unit(500, 24, 1)
    streamed = memory_aggregate(queries, memory, temperature, chunk_size=chunk_size, query_chunk_size=query_chunk_size)
    dense = dense_memory_aggregate(queries, memory, temperature)
    assert streamed.shape == (130, 24)
    torch.testing.assert_close(streamed, dense, atol=2e-5, rtol=1e-4)


def test_memmap_memory_gives_the_same_result(tmp_path):
    queries, memory = _unit(64, 16, 2), _unit(300, 16, 3)
    path = tmp_path / "memory.npy"
    np.save(path, memory.numpy())
    mapped = np.load(path, mmap_mode="r")
    streamed = memory_aggregate(queries.numpy(), mapped, 0.01, chunk_size=50, query_chunk_size=16)
    torch.testing.assert_close(streamed, dense_memory_aggregate(queries, memory, 0.01), atol=2e-5, rtol=1e-4)


def test_low_temperature_picks_the_nearest_memory_row():
    memory = _unit(200, 32, 4)
    queries = F.normalize(memory[[3, 77, 150]] + 0.01 * _unit(3, 32, 5), dim=-1)
    pseudo = memory_aggregate(queries, memory, 0.001, chunk_size=16)
    torch.testing.assert_close(pseudo, memory[[3, 77, 150]], atol=1e-3, rtol=0)


def test_no_overflow_with_extreme_scores():
    memory = _unit(100, 8, 6) * 1.0
    queries = memory[:10].clone()
    pseudo = memory_aggregate(queries, memory, 1e-4, chunk_size=9)  # logits up to 1e4: exp would overflow without the running max
    assert torch.isfinite(pseudo).all()
    torch.testing.assert_close(pseudo, memory[:10], atol=1e-5, rtol=0)


def test_working_memory_does_not_grow_with_memory_size(monkeypatch):
    """The largest temporary the streamed softmax allocates is bounded by the chunk, not by M."""
    import bridge.methods.consistency as consistency

    largest = {"elements": 0}
    original = torch.matmul

    def spying_matmul(left, right, *args, **kwargs):
        out = kwargs.get("out")
        if out is not None:
            largest["elements"] = max(largest["elements"], out.numel())
        return original(left, right, *args, **kwargs)

    monkeypatch.setattr(consistency.torch, "matmul", spying_matmul)
    queries = _unit(32, 8, 7)
    for rows in (1_000, 20_000):
        largest["elements"] = 0
        memory_aggregate(queries, _unit(rows, 8, 8), 0.05, chunk_size=256, query_chunk_size=32)
        assert largest["elements"] == 32 * 256


def test_dimension_mismatch_is_an_error():
    with pytest.raises(ValueError, match="dimension"):
        memory_aggregate(_unit(4, 8, 0), _unit(4, 9, 1), 0.01)


def test_memory_rows_are_normalised_whatever_the_mcr_returned():
    generator = torch.Generator().manual_seed(3)
    queries = torch.nn.functional.normalize(torch.randn(40, 16, generator=generator), dim=-1)
    memory = torch.nn.functional.normalize(torch.randn(300, 16, generator=generator), dim=-1)
    scales = torch.rand(300, 1, generator=generator) * 5 + 0.1  # rows of any length, as an MCR without normalisation gives
    unit = memory_aggregate(queries, memory, 0.05, chunk_size=64, query_chunk_size=16)
    scaled = memory_aggregate(queries, memory * scales, 0.05, chunk_size=64, query_chunk_size=16)
    torch.testing.assert_close(scaled, unit, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(dense_memory_aggregate(queries, memory * scales, 0.05), unit, atol=1e-5, rtol=1e-5)
    as_array = memory_aggregate(queries.numpy(), (memory * scales).numpy(), 0.05, chunk_size=64)
    torch.testing.assert_close(as_array, unit, atol=1e-5, rtol=1e-5)


def test_npy_files_are_read_chunk_by_chunk_not_mapped(tmp_path, monkeypatch):
    """Queries and memory given as np.load(..., mmap_mode="r") are read with pread: same result, no page of the mapping touched."""
    from bridge.methods import consistency

    generator = torch.Generator().manual_seed(3)
    queries, memory = torch.randn(70, 12, generator=generator), torch.randn(130, 12, generator=generator)
    np.save(tmp_path / "q.npy", queries.numpy().astype(np.float16))
    np.save(tmp_path / "m.npy", memory.numpy())
    mapped_q = np.load(tmp_path / "q.npy", mmap_mode="r")
    mapped_m = np.load(tmp_path / "m.npy", mmap_mode="r")
    reads = []
    original = consistency._read_file_rows
    monkeypatch.setattr(consistency, "_read_file_rows",
                        lambda array, first, start, stop: reads.append(stop - start) or original(array, first, start, stop))
    result = memory_aggregate(mapped_q, mapped_m, 0.1, chunk_size=32, query_chunk_size=16)
    as_read = torch.from_numpy(queries.numpy().astype(np.float16).astype(np.float32))
    torch.testing.assert_close(result, dense_memory_aggregate(as_read, memory, 0.1), atol=1e-5, rtol=1e-5)
    assert max(reads) == 32 and len(reads) == 5 + 5 * 5  # 5 query chunks, each reading the 5 memory chunks
    reads.clear()  # row slices of a mapping are read from the file too, at their own offset
    sliced = memory_aggregate(mapped_q[33:61], mapped_m[10:100], 0.1, chunk_size=32)
    torch.testing.assert_close(sliced, dense_memory_aggregate(as_read[33:61], memory[10:100], 0.1), atol=1e-5, rtol=1e-5)
    assert len(reads) == 1 + 3
    assert consistency._file_offset(mapped_m[:, :4]) is None  # not C-ordered: read through the mapping


def test_fused_softmax_step_equals_the_eager_one():
    """The torch.compile'd step CUDA uses by default, run here on the CPU: the same result, last chunk shorter."""
    queries, memory = _unit(40, 16, 10), _unit(300, 16, 11)  # chunks of 128: 128, 128, 44 rows
    fused = memory_aggregate(queries, memory, 0.01, chunk_size=128, query_chunk_size=32, fused=True)
    eager = memory_aggregate(queries, memory, 0.01, chunk_size=128, query_chunk_size=32, fused=False)
    torch.testing.assert_close(fused, eager, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(fused, dense_memory_aggregate(queries, memory, 0.01), atol=2e-5, rtol=1e-4)


def test_a_fused_step_that_fails_to_compile_falls_back_to_eager(monkeypatch, caplog):
    import bridge.methods.consistency as consistency

    def broken(scores, running_max):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(consistency, "fused_softmax_step", lambda: broken)
    queries, memory = _unit(20, 8, 12), _unit(90, 8, 13)
    with caplog.at_level("WARNING"):
        result = memory_aggregate(queries, memory, 0.05, chunk_size=32, fused=True)
    torch.testing.assert_close(result, dense_memory_aggregate(queries, memory, 0.05), atol=2e-5, rtol=1e-4)
    assert "failed to compile" in caplog.text
