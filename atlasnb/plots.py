"""The paper's figures, drawn alike: one style, one function a figure.

Figure 2a and 2b are derived in {ref}`sec-atlas-wae-gan`, Figures 3a and 3b in
{ref}`sec-experiments`. Functions take arrays and return a matplotlib Figure;
they compute nothing that a chapter should see computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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


def _image_cell(ax, images, labels, i: int) -> None:
    """One frameless cell of an image row: image ``i`` with its label below, if any."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if i < len(images):
        ax.imshow(images[i], vmin=0, vmax=1)
        if labels is not None:
            ax.set_xlabel(labels[i], fontsize=7, labelpad=1)


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
            _image_cell(axes[r, i], images, labels, i)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout(pad=0.3, h_pad=0.2, w_pad=0.1)
    return figure


def _family(name: str) -> str:
    return "WAE-GAN" if name.startswith("WAE") else "AWAE-GAN"


def geodesic_lengths_figure(panels: dict[str, dict[str, Sequence[float]]],
                            title: str = "", ylabel: str = "geodesic length (eq. 10)"
                            ) -> plt.Figure:
    """Figure 3a: geodesic lengths of the test pairs, one panel per data set and one
    box (with the single lengths as dots) per model.

    ``panels`` maps a panel title to {model name: lengths}. NaN lengths (pairs
    that the graph does not join) are left out of the box and counted under the
    model's name.
    """
    use_style()
    figure, axes = plt.subplots(1, len(panels), squeeze=False,
                                figsize=(max(3.0, 0.9 * max(map(len, panels.values())) + 1.2)
                                         * len(panels), 3.2))
    rng = np.random.default_rng(0)
    for ax, (panel, lengths) in zip(axes.flat, panels.items()):
        names = list(lengths)
        ticks = []
        for i, name in enumerate(names, start=1):
            values = np.asarray(lengths[name], dtype=float)
            finite = values[np.isfinite(values)]
            colour = COLOURS[_family(name)]
            if len(finite):
                box = ax.boxplot(finite, positions=[i], widths=0.6, showfliers=False,
                                 patch_artist=True, medianprops={"color": "black"})
                box["boxes"][0].set(facecolor=colour, alpha=0.45)
                ax.plot(i + rng.uniform(-0.18, 0.18, len(finite)), finite, ".",
                        color=colour, markersize=3, alpha=0.8)
            failed = len(values) - len(finite)
            ticks.append(name if not failed else f"{name}\n({failed} failed)")
        ax.set_xticks(range(1, len(names) + 1), ticks, fontsize=8)
        ax.set_xlim(0.4, len(names) + 0.6)
        ax.set_title(panel)
    axes[0, 0].set_ylabel(ylabel)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def interpolation_panels_figure(panels: dict[str, Sequence[tuple[str, object,
                                                                   Sequence[str] | None]]],
                                title: str = "") -> plt.Figure:
    """Figure 3b for several data sets: one block of interpolation rows per panel,
    each row as in :func:`interpolation_figure` (name, images, labels or None).
    Panels without rows are left out."""
    use_style()
    panels = {name: rows for name, rows in panels.items() if rows}
    if not panels:  # nothing to show: say so rather than fail
        figure, ax = plt.subplots(figsize=(5, 1.2))
        ax.text(0.5, 0.5, "no interpolation to show", ha="center", va="center")
        ax.axis("off")
        if title:
            ax.set_title(title)
        return figure
    n_rows = sum(len(rows) for rows in panels.values())
    n_columns = max(len(_as_numpy_images(images)) for rows in panels.values()
                    for _, images, _ in rows)
    row_height, header = 0.95, 0.35
    height = row_height * n_rows + header * len(panels) + (0.3 if title else 0.1)
    width = 0.75 * n_columns + 1.6
    figure = plt.figure(figsize=(width, height))
    grid = figure.add_gridspec(len(panels), 1,
                               height_ratios=[row_height * len(r) + header
                                              for r in panels.values()],
                               left=1.5 / width, right=0.99, bottom=0.02,
                               top=1 - (0.3 if title else 0.05) / height)
    for block, (panel, rows) in enumerate(panels.items()):
        inner = grid[block].subgridspec(
            len(rows) + 1, n_columns, height_ratios=[header] + [row_height] * len(rows),
            wspace=0.05, hspace=0.35)
        heading = figure.add_subplot(inner[0, :])
        heading.axis("off")
        heading.text(0.5, 0.2, panel, ha="center", va="bottom", fontsize=10,
                     transform=heading.transAxes)
        for r, (name, images, labels) in enumerate(rows, start=1):
            images = _as_numpy_images(images)
            for i in range(n_columns):
                ax = figure.add_subplot(inner[r, i])
                _image_cell(ax, images, labels, i)
                if i == 0:
                    ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        figure.suptitle(title, y=1 - 0.05 / height, va="top")
    return figure


#: One colour for each kind of path in the refinement figures.
PATH_COLOURS = {"graph": "#4c72b0", "straight": "#7f7f7f", "refined": "#55a868"}


def refinement_figure(ratios: dict[str, dict[str, Sequence[float]]],
                      scan: dict[str, tuple[Sequence[float], Sequence[float]]],
                      ratio_label: str = "length / straight segment",
                      scan_label: str = "graph excess over reference") -> plt.Figure:
    """Refined geodesics: left, one box per model and kind of path of its lengths
    divided by the straight segment's (``ratios``: {model: {kind: values}}, NaN
    left out); right, the median excess of the graph path over a reference length
    against the number of graph points (``scan``: {model: (n_points, median)})."""
    use_style()
    figure, (left, right) = plt.subplots(1, 2, figsize=(8.5, 3.2),
                                         gridspec_kw={"width_ratios": [1.4, 1]})
    position, ticks, labels = 0, [], []
    for model, kinds in ratios.items():
        for kind, values in kinds.items():
            values = np.asarray(values, dtype=float)
            values = values[np.isfinite(values)]
            position += 1
            if len(values):
                box = left.boxplot(values, positions=[position], widths=0.6,
                                   showfliers=False, patch_artist=True,
                                   medianprops={"color": "black"})
                box["boxes"][0].set(facecolor=PATH_COLOURS.get(kind, "#cccccc"), alpha=0.6)
            ticks.append(position)
            labels.append(f"{kind}\n{model}")
        position += 0.5
    left.axhline(1, color="black", linewidth=0.8, linestyle=":")
    left.set_xticks(ticks, labels, fontsize=7)
    left.set_ylabel(ratio_label)
    for model, (n_points, excess) in scan.items():
        right.plot(n_points, 100 * np.asarray(excess, dtype=float), "o-",
                   color=COLOURS[_family(model)], label=model)
    right.set_xscale("log")
    right.set_xlabel("graph points N")
    right.set_ylabel(f"median {scan_label} (%)")
    right.legend(fontsize=8)
    figure.tight_layout()
    return figure
