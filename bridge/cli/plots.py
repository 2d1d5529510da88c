"""Plots of results (matplotlib, imported only here)."""

from __future__ import annotations

from pathlib import Path

from bridge.cli.render import mean_std


def plot_scores(rows: dict[str, dict[str, list[float]]], path: Path, title: str) -> Path:
    """Grouped bar plot of the mAP columns of ``rows`` (variant → metric → per-seed values), std error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in next(iter(rows.values())) if m.endswith("mAP")]
    names = list(rows)
    width = 0.8 / len(metrics)
    figure, axis = plt.subplots(figsize=(max(6, 0.9 * len(names)), 4.5))
    for offset, metric in enumerate(metrics):
        stats = [mean_std(rows[name][metric]) for name in names]
        positions = [i + (offset - (len(metrics) - 1) / 2) * width for i in range(len(names))]
        axis.bar(positions, [100 * m for m, _ in stats], width, yerr=[100 * s for _, s in stats], capsize=3, label=metric)
    axis.set_xticks(range(len(names)), [n[:40] for n in names], rotation=35, ha="right")
    axis.set_ylabel("mAP (%)")
    axis.set_title(title[:120])
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
