"""Cross-modal search index: recall@10 of the ANN index against exact search, and queries/s, at 1M vectors.

Target (issue 10): *recall@10 ≥ 0.95 of exact search at 1M vectors; queries/s reported*, measured in one run.

What runs is the product's own path: the vectors are written as an embedding
folder (`bridge.data.embedding_folder`, the layout `bridge export` writes),
indexed by `bridge.Index.from_folder` (`bridge index --from-folder`: FAISS
kind chosen by size, trained on a sample, search parameter tuned on its own
sample) and searched with `Index.search_vectors`. Exact search is FAISS's
`IndexFlatIP` over the same vectors, timed in the same run.

Synthetic features (:class:`World`): N unit vectors of D dimensions with a
low intrinsic dimension L, drawn around C concept centres, like a real
encoder's embeddings of C concepts (isotropic random vectors in 128+
dimensions have no near neighbours worth the name, and no ANN index helps
there; real embeddings are far from isotropic). Queries are fresh draws (not in the index) from the
same mixture; a second query set adds a fixed offset before normalising, the
way another modality's embeddings sit apart from these (the modality gap).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import _measure


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


class World:
    """Synthetic embeddings with a low intrinsic dimension, like a real encoder's.

    C concept centres are unit vectors in an L-dimensional latent space; an item is
    ``centre + spread · g / √L`` there, mapped to D dimensions by a fixed random
    orthonormal map, plus isotropic noise of norm ``noise``, then L2-normalised.
    """

    def __init__(self, rng: np.random.Generator, centres: int, latent: int, dim: int, spread: float, noise: float):
        self.rng, self.latent, self.dim, self.spread, self.noise = rng, latent, dim, spread, noise
        self.centres = unit(rng.standard_normal((centres, latent), dtype=np.float32))
        self.basis = np.linalg.qr(rng.standard_normal((dim, latent)))[0].T.astype(np.float32)  # (L, D), orthonormal rows

    def draw(self, count: int, offset: np.ndarray | None = None) -> np.ndarray:
        """``(count, D)`` unit vectors (plus ``offset`` before normalising)."""
        rng = self.rng
        latent = self.centres[rng.integers(0, len(self.centres), size=count)]
        latent = latent + self.spread * rng.standard_normal((count, self.latent), dtype=np.float32) / np.sqrt(self.latent)
        rows = latent @ self.basis + self.noise * rng.standard_normal((count, self.dim), dtype=np.float32) / np.sqrt(self.dim)
        return unit(rows if offset is None else rows + offset)


def timed_search(search, queries: np.ndarray, k: int, one_at_a_time: int) -> tuple[np.ndarray, float, float]:
    """Rows found for all queries in one batch, batch queries/s, and queries/s one query per call (first ``one_at_a_time``)."""
    start = time.perf_counter()
    rows = search(queries, k)
    batch_qps = len(queries) / (time.perf_counter() - start)
    start = time.perf_counter()
    for query in queries[:one_at_a_time]:
        search(query[None], k)
    single_qps = one_at_a_time / (time.perf_counter() - start)
    return rows, batch_qps, single_qps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="Indexed vectors (default 1,000,000).")
    parser.add_argument("--dim", type=int, default=128, help="Dimension D (default 128).")
    parser.add_argument("--centres", type=int, default=1000, help="Concepts the vectors cluster around.")
    parser.add_argument("--latent", type=int, default=32, help="Intrinsic (latent) dimension L of the vectors.")
    parser.add_argument("--spread", type=float, default=1.0, help="Spread of an item around its concept, in the latent space (centres have norm 1).")
    parser.add_argument("--noise", type=float, default=0.2, help="Norm of the isotropic noise added in D dimensions.")
    parser.add_argument("--gap", type=float, default=0.5, help="Norm of the offset of the second query set (the modality gap).")
    parser.add_argument("--queries", type=int, default=1000, help="Held-out queries per set.")
    parser.add_argument("--k", type=int, default=10, help="Neighbours (recall@k).")
    parser.add_argument("--kind", default="auto", help="Index kind: auto, flat, ivf, ivf-sq8, hnsw.")
    parser.add_argument("--threads", type=int, default=2, help="FAISS (OpenMP) threads.")
    parser.add_argument("--single", type=int, default=200, help="Queries timed one per call, for the latency figure.")
    parser.add_argument("--target", type=float, default=0.95, help="Recall@k target.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import faiss

    from bridge.data.embedding_folder import EmbeddingFolderWriter
    from bridge.data.sources import Item
    from bridge.data.vector_index import recall_at_k
    from bridge.pipeline.search import Index

    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    world = World(rng, args.centres, args.latent, args.dim, args.spread, args.noise)
    offset = unit(rng.standard_normal((1, args.dim), dtype=np.float32))[0] * args.gap
    print(f"faiss {faiss.__version__}, {args.threads} thread(s); N = {args.n:,} unit vectors, D = {args.dim} "
          f"(latent L = {args.latent}, {args.centres} centres, spread {args.spread}, noise {args.noise}); "
          f"{args.queries} held-out queries per set, k = {args.k}")

    work = Path(tempfile.mkdtemp(prefix="index-bench-"))
    try:
        start = time.perf_counter()
        vectors = np.empty((args.n, args.dim), dtype=np.float32)
        writer = EmbeddingFolderWriter(work / "vectors", "image", args.dim, "float32", shard_rows=250_000)
        for first in range(0, args.n, 100_000):
            block = world.draw(min(100_000, args.n - first))
            vectors[first : first + len(block)] = block
            writer.add([Item(str(first + i), f"v{first + i}", False) for i in range(len(block))], block)
        writer.close()
        print(f"wrote the vectors as an embedding folder in {time.perf_counter() - start:.1f} s")

        start = time.perf_counter()
        index = Index.from_folder(work / "vectors", work / "index", "image", kind=args.kind)
        build_s = time.perf_counter() - start
        info = index.info
        tuned = f", {info['parameter']} = {info['value']} (tuned recall@10 on its own sample {info['tuned_recall_at_10']:.3f})" if info.get("parameter") else ""
        print(f"index: {info['factory']}{tuned}; built (train + add + tune + write) in {build_s:.1f} s")
        print(f"index folder: {sum(f.stat().st_size for f in (work / 'index').rglob('*') if f.is_file()) / _measure.GB:.2f} GB on disk")

        exact = faiss.IndexFlatIP(args.dim)
        exact.add(vectors)

        def ann(queries: np.ndarray, k: int) -> np.ndarray:
            return np.array([[hit.row for hit in hits] for hits in index.search_vectors(queries, k)])

        def flat(queries: np.ndarray, k: int) -> np.ndarray:
            return exact.search(queries, k)[1]

        def faiss_alone(queries: np.ndarray, k: int) -> np.ndarray:
            return index.faiss_index.search(queries, k)[1]

        passed = True
        for name, queries in (("held-out queries", world.draw(args.queries)),
                              (f"queries with a modality gap (offset norm {args.gap})", world.draw(args.queries, offset))):
            truth, exact_qps, exact_single = timed_search(flat, queries, args.k, args.single)
            found, ann_qps, ann_single = timed_search(ann, queries, args.k, args.single)
            _, raw_qps, raw_single = timed_search(faiss_alone, queries, args.k, args.single)
            recall = recall_at_k(found, truth)
            passed &= recall >= args.target
            print(f"{name}:")
            print(f"  exact (IndexFlatIP): {exact_qps:,.0f} queries/s in one batch, {exact_single:,.0f} queries/s one per call")
            print(f"  index ({info['factory']}): {ann_qps:,.0f} queries/s in one batch, {ann_single:,.0f} queries/s one per call "
                  f"({ann_qps / exact_qps:.1f}x / {ann_single / exact_single:.1f}x exact)")
            print(f"    of which FAISS alone (no id/path look-up): {raw_qps:,.0f} / {raw_single:,.0f} queries/s")
            print(f"  recall@{args.k} against exact: {recall:.4f} (target ≥ {args.target:.2f}): {_measure.verdict(recall >= args.target)}")
        print(f"peak RSS {_measure.peak_rss_bytes() / _measure.GB:.2f} GB")
        print(f"overall: {_measure.verdict(passed)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
