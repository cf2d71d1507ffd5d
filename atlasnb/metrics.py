"""Test-set metrics of a trained AGM: Table 1's reconstruction error, Figure 2b's
chart-assignment confidence, and which labels each chart holds and generates.

Derived in {ref}`sec-atlas-wae-gan`. Every function works through the AGM
interface (:mod:`atlasnb.agm`), so it applies to any atlas model.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier

from atlasnb.data import load_images
from atlasnb.geodesics.decoding import evaluating, psi_and_codes

#: Samples drawn from each chart when counting the labels it generates.
SAMPLES_PER_CHART = 200
#: A chart "generates" a label when at least this fraction of its samples carry it.
GENERATES_FRACTION = 0.05
#: Images in the test split of either data set.
TEST_IMAGES = 10_000
#: The keys of :func:`evaluate`'s result; a stored ``metrics.json`` lacking one is stale.
KEYS = ("model", "n_charts", "latent_dim", "width", "parameters", "test_images",
        "reconstruction_error", "confidence_median", "confidence_mean", "confidence_above_0.9",
        "confidence_histogram", "assigned_label_counts", "generated_label_counts",
        "labels_per_chart", "charts_per_label")


@torch.inference_mode()
def _batched(function, x: torch.Tensor, batch_size: int, device) -> torch.Tensor:
    return torch.cat([function(x[i:i + batch_size].to(device)).cpu()
                      for i in range(0, len(x), batch_size)])


@torch.inference_mode()
def reconstruct(model, x: torch.Tensor, batch_size: int = 1000, device="cpu") -> torch.Tensor:
    """G_y(F_y(x)) through each point's most likely chart y = argmax psi(x)."""
    def through_best_chart(batch):
        chart = model.partition(batch).argmax(dim=1)
        z = model.encode(batch)[torch.arange(len(batch), device=batch.device), chart]
        return model.decode(z, chart)
    return _batched(through_best_chart, x, batch_size, device)


def reconstruction_error(model, x: torch.Tensor, batch_size: int = 1000, device="cpu") -> float:
    """Mean squared error per pixel between ``x`` and its reconstruction (Table 1)."""
    x_hat = reconstruct(model, x, batch_size, device)
    return float(((x_hat - x) ** 2).mean())


def chart_confidence(model, x: torch.Tensor, batch_size: int = 1000, device="cpu") -> np.ndarray:
    """max_y psi_y(x) for every row of ``x`` (Figure 2b)."""
    psi = _batched(model.partition, x, batch_size, device)
    return psi.max(dim=1).values.numpy()


def chart_assignment(model, x: torch.Tensor, batch_size: int = 1000, device="cpu") -> np.ndarray:
    """argmax_y psi_y(x) for every row of ``x``."""
    psi = _batched(model.partition, x, batch_size, device)
    return psi.argmax(dim=1).numpy()


@torch.inference_mode()
def sample_charts(model, n_per_chart: int, seed: int = 0, device="cpu") -> torch.Tensor:
    """G_y(z) for ``n_per_chart`` prior samples z ~ N(0, I) in every chart: (m, n, ...)."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(model.n_charts, n_per_chart, model.latent_dim, generator=generator)
    return torch.stack([model.decode(z[y].to(device), y).cpu() for y in range(model.n_charts)])


def label_oracle(dataset: str, n_train: int = 10_000, seed: int = 0) -> KNeighborsClassifier:
    """A 5-nearest-neighbour classifier on training pixels, used to label samples."""
    images, labels = load_images(dataset, "train", limit=n_train, seed=seed)
    return KNeighborsClassifier(n_neighbors=5).fit(images.flatten(1).numpy(), labels.numpy())


def generated_label_counts(model, oracle: KNeighborsClassifier, n_per_chart: int =
                           SAMPLES_PER_CHART, seed: int = 0, device="cpu") -> np.ndarray:
    """(m, 10) counts: labels the oracle gives to ``n_per_chart`` samples of each chart."""
    samples = sample_charts(model, n_per_chart, seed, device)
    counts = np.zeros((model.n_charts, 10), dtype=int)
    for y, images in enumerate(samples):
        predicted = oracle.predict(images.flatten(1).numpy())
        counts[y] = np.bincount(predicted, minlength=10)
    return counts


def evaluate(model, config, device="cpu") -> dict:
    """All metrics of a trained model on the test set of ``config.dataset``. For a
    manifold data set (no labels) the label counts are empty (m x 0) lists."""
    from atlasnb.data import MANIFOLD_DATASETS
    from atlasnb.models import parameter_count

    x, labels = load_images(config.dataset, "test", limit=config.test_size, seed=config.seed)
    confidence = chart_confidence(model, x, device=device)
    if config.dataset in MANIFOLD_DATASETS:  # no classes: the label counts stay empty
        assigned_labels = generated = generates = np.zeros((model.n_charts, 0), dtype=int)
    else:
        assigned = chart_assignment(model, x, device=device)
        assigned_labels = np.zeros((model.n_charts, 10), dtype=int)
        np.add.at(assigned_labels, (assigned, labels.numpy()), 1)
        generated = generated_label_counts(model, label_oracle(config.dataset,
                                                               seed=config.seed),
                                           seed=config.seed, device=device)
        generates = generated >= GENERATES_FRACTION * generated.sum(axis=1, keepdims=True)
    histogram, _ = np.histogram(confidence, bins=50, range=(0.0, 1.0))
    result = {
        "model": config.model_name,
        "n_charts": model.n_charts,
        "latent_dim": model.latent_dim,
        "width": config.model_width,
        "parameters": parameter_count(model),
        "test_images": len(x),
        # A semi-AGM (no encoder) reconstructs nothing: null in metrics.json.
        "reconstruction_error": (reconstruction_error(model, x, device=device)
                                 if callable(getattr(model, "encode", None)) else None),
        "confidence_median": float(np.median(confidence)),
        "confidence_mean": float(confidence.mean()),
        "confidence_above_0.9": float((confidence > 0.9).mean()),
        "confidence_histogram": histogram.tolist(),
        "assigned_label_counts": assigned_labels.tolist(),
        "generated_label_counts": generated.tolist(),
        "labels_per_chart": generates.sum(axis=1).tolist(),
        "charts_per_label": generates.sum(axis=0).tolist(),
    }
    return result


def stored_problem(data, model, config) -> str | None:
    """What is wrong with stored metrics ``data`` for ``model`` and ``config``, or None."""
    if not isinstance(data, dict):
        return f"holds a {type(data).__name__}, not the metrics of a run"
    missing = [key for key in KEYS if key not in data]
    if missing:
        shown = missing if len(missing) <= 4 else missing[:3] + ["..."]
        return f"lacks {len(missing)} of the {len(KEYS)} keys evaluate writes ({shown})"
    expected = {"n_charts": model.n_charts, "latent_dim": model.latent_dim,
                "test_images": min(config.test_size or TEST_IMAGES, TEST_IMAGES)}
    wrong = {key: data[key] for key, value in expected.items() if data[key] != value}
    if wrong:
        return f"belongs to another model ({wrong}, expected {expected})"
    return None


def data_likeness(model, frames: torch.Tensor, reference: torch.Tensor) -> tuple:
    """(nearest, reconstruction): for each frame, the pixel distance to its nearest
    ``reference`` image, and ||f - G_y(F_y(f))|| with y its most confident chart.
    Derived in {ref}`sec-graph-refinement`."""
    flat = frames.flatten(1).double()
    nearest = torch.cdist(flat, reference.flatten(1).double()).min(dim=1).values
    with evaluating(model):
        psi, codes = psi_and_codes(model, frames, batch_size=len(frames))
        charts = torch.from_numpy(psi.argmax(axis=1))
        rebuilt = model.decode(codes[torch.arange(len(frames)), charts], charts)
    error = (rebuilt.flatten(1).double() - flat).norm(dim=1)
    return nearest.numpy(), error.numpy()
