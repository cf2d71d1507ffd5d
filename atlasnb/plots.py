"""The paper's figures, drawn alike: one style, one function a figure.

Figure 2a and 2b are derived in {ref}`sec-atlas-wae-gan`, Figures 3a and 3b in
{ref}`sec-experiments`. Functions take arrays and return a matplotlib Figure;
they compute nothing that a chapter should see computed.
"""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "image.cmap": "gray",
}
#: One colour for each model family, used by every figure and table.
COLOURS = {"WAE-GAN": "#4c72b0", "AWAE-GAN": "#dd8452", "paper": "#7f7f7f"}


def use_style() -> None:
    """Apply the book's matplotlib style (called by every figure function)."""
    plt.rcParams.update(STYLE)


def _as_numpy_images(images) -> np.ndarray:
    array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    return array.reshape(len(array), 28, 28) if array.ndim == 4 else array


def image_mosaic(images, n_columns: int) -> np.ndarray:
    """Tile (n, 28, 28) or (n, 1, 28, 28) images into one array, 1-pixel gaps."""
    images = _as_numpy_images(images)
    n_rows = math.ceil(len(images) / n_columns)
    mosaic = np.ones((n_rows * 29 - 1, n_columns * 29 - 1))
    for i, image in enumerate(images):
        row, column = divmod(i, n_columns)
        mosaic[row * 29:row * 29 + 28, column * 29:column * 29 + 28] = image
    return mosaic


def chart_samples_figure(samples, title: str = "", n_columns: int = 4) -> plt.Figure:
    """Figure 2a: one box of samples G_y(z), z ~ N(0, I), for every chart y.

    ``samples`` is (m, n, 1, 28, 28); charts are numbered from 1 as in the paper.
    """
    use_style()
    m = len(samples)
    box_columns = min(m, 4)
    box_rows = math.ceil(m / box_columns)
    figure, axes = plt.subplots(box_rows, box_columns, squeeze=False,
                                figsize=(2.2 * box_columns, 1.9 * box_rows))
    for y, ax in enumerate(axes.flat):
        ax.axis("off")
        if y < m:
            ax.imshow(image_mosaic(samples[y], n_columns), vmin=0, vmax=1)
            ax.set_title(f"chart {y + 1}")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def confidence_figure(confidence: np.ndarray, n_charts: int, title: str = "") -> plt.Figure:
    """Figure 2b: histogram of chart-assignment confidence max_y psi_y(x)."""
    use_style()
    figure, ax = plt.subplots(figsize=(5, 2.8))
    ax.hist(confidence, bins=np.linspace(1 / n_charts, 1, 41), color=COLOURS["AWAE-GAN"])
    ax.axvline(np.median(confidence), color="black", linestyle="--", linewidth=1,
               label=f"median {np.median(confidence):.3f}")
    ax.set_xlabel(r"chart assignment confidence $\max_y \psi_y(x)$")
    ax.set_ylabel("test images")
    ax.legend(frameon=False, loc="upper left")
    if title:
        ax.set_title(title)
    figure.tight_layout()
    return figure


def path_length_figure(lengths: dict[str, Sequence[float]], title: str = "") -> plt.Figure:
    """Figure 3a: the distribution of geodesic lengths, one box per model."""
    use_style()
    names = list(lengths)
    figure, ax = plt.subplots(figsize=(1.3 * len(names) + 2, 3))
    parts = ax.violinplot([np.asarray(lengths[n]) for n in names], showmedians=True)
    for name, body in zip(names, parts["bodies"]):
        body.set_facecolor(COLOURS["WAE-GAN" if name.startswith("WAE") else "AWAE-GAN"])
        body.set_alpha(0.6)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20)
    ax.set_ylabel("geodesic length (eq. 10)")
    if title:
        ax.set_title(title)
    figure.tight_layout()
    return figure


def interpolation_figure(rows: Sequence[tuple[str, object, Sequence[str] | None]],
                         title: str = "") -> plt.Figure:
    """Figure 3b: interpolation rows; each row is (name, images (n, ...), labels or None).

    Labels (the chart of each step, 'y1/y2' on a chart change) are written under
    the images of rows that have them.
    """
    use_style()
    n = max(len(_as_numpy_images(images)) for _, images, _ in rows)
    figure, axes = plt.subplots(len(rows), n, squeeze=False,
                                figsize=(0.75 * n + 1.2, 0.95 * len(rows) + 0.4))
    for r, (name, images, labels) in enumerate(rows):
        images = _as_numpy_images(images)
        for i in range(n):
            ax = axes[r, i]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if i < len(images):
                ax.imshow(images[i], vmin=0, vmax=1)
                if labels is not None:
                    ax.set_xlabel(labels[i], fontsize=7, labelpad=1)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout(pad=0.3, h_pad=0.2, w_pad=0.1)
    return figure
