"""Training configurations: one frozen dataclass and three named scales.

Derived in {ref}`sec-wae-gan` (the objective and Appendix A's settings).
``paper`` is Appendix A exactly; ``quick`` (every chapter's default) and
``smoke`` (CI) scale widths, training set size and epochs down, never what is
computed. Every field can be overridden::

    config = make_config("quick", dataset="fashion-mnist", n_charts=4, epochs=3)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from atlasnb.checks import check_int as _check_int
from atlasnb.checks import check_int_at_most, check_int_sequence, check_unit_pair
from atlasnb.checks import check_positive as _check_positive
from atlasnb.datasets import DATASET_NAMES as DATASETS
from atlasnb.datasets import IMAGE_DATASETS, MANIFOLD_DATASETS, check_dataset
from atlasnb.paper import (
    ADAM_BETAS,
    APPENDIX_A,
    ATLAS_LATENT_DIM,
    EPOCHS,
    LAMBDA,
    TABLE1_WIDTHS,
    WAE_LATENT_DIM,
)
from atlasnb.widths import family_width, scale_width

__all__ = ["APPENDIX_A", "ATLAS_LATENT_DIM", "DATASETS", "DEFAULT_MODEL", "FAMILY_FIELDS",
           "IMAGE_DATASETS", "INFOGAN_LAMBDA", "LATENT_PENALTIES", "LIKELIHOODS",
           "MANIFOLD_DATASETS", "MANIFOLD_SCALE_OVERRIDES", "MODELS",
           "RECONSTRUCTION_COSTS", "SCALES", "SCALE_OVERRIDES", "TABLE1_WIDTHS",
           "TrainConfig", "WAE_LATENT_DIM", "make_config", "table1_width"]

#: ``DATASETS`` (every accepted name, from :mod:`atlasnb.datasets`) holds the
#: paper's data sets (``IMAGE_DATASETS``) and the known manifolds, which train
#: with MNIST's Appendix A settings since their images are made from an MNIST digit.
SCALES = ("smoke", "quick", "paper")
#: The two readings of eq. (6)'s divergence D(Q(Z, Y), P(Z, Y)); see
#: :mod:`atlasnb.objective` and {ref}`sec-atlas-wae-gan`.
LATENT_PENALTIES = ("joint", "per-chart")
#: The cost c of eq. (6): ``"squared"`` is ||x - x'||_2^2, ``"l2"`` is ||x - x'||_2.
RECONSTRUCTION_COSTS = ("squared", "l2")
#: The training and test set sizes of MNIST and Fashion-MNIST: the most that
#: ``train_size`` and ``test_size`` can take.
TRAIN_IMAGES, TEST_IMAGES = 60_000, 10_000
#: The model families ({ref}`sec-agm-class`): the Atlas WAE-GAN (the WAE-GAN for
#: m = 1, the default), the Atlas VAE, the Chart Auto-Encoder and the InfoGAN-type
#: semi-AGM (:mod:`atlasnb.families`).
MODELS = ("atlas-wae-gan", "atlas-vae", "cae", "infogan")
DEFAULT_MODEL = MODELS[0]
#: The Atlas VAE's likelihoods p(x | z, y) (:mod:`atlasnb.families.atlas_vae`).
LIKELIHOODS = ("bernoulli", "gaussian")
#: lam of eq. (3) that ``make_config(model="infogan")`` sets (Chen et al.'s value for a
#: discrete code; :mod:`atlasnb.families.infogan`).
INFOGAN_LAMBDA = 1.0
#: Fields that only some families read: left out of :meth:`TrainConfig.to_dict` (and so
#: of the run key) at their defaults, so configs written before they existed keep
#: their run folders.
FAMILY_FIELDS = {"model": DEFAULT_MODEL, "likelihood": LIKELIHOODS[0]}


def table1_width(n_charts: int) -> int:
    """h for ``n_charts`` charts at full size: Table 1's value, else the h whose
    parameter count is closest to the WAE-GAN's (:func:`atlasnb.widths.scale_width`)."""
    return scale_width(n_charts, 1)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model; the run folder is keyed by it.

    ``n_charts == 1`` is the WAE-GAN (d = 8, h = 128 at paper scale); more charts
    give the Atlas WAE-GAN (d = 7, h from Table 1). ``width`` and ``latent_dim``
    of ``None`` mean "the paper's value": d as above, and for h the equal-budget
    width of :func:`atlasnb.widths.scale_width` (WAE-GAN 128 // ``width_divisor``,
    atlas models matched to its parameter count). ``latent_penalty`` and
    ``reconstruction_cost`` choose the reading of eq. (6) ({ref}`sec-atlas-wae-gan`).
    """

    dataset: str = "mnist"
    n_charts: int = 1
    scale: str = "paper"
    width: int | None = None
    width_divisor: int = 1
    latent_dim: int | None = None
    train_size: int | None = None  # None: all 60,000 training images
    test_size: int | None = None  # None: all 10,000 test images for the metrics
    epochs: int = EPOCHS
    batch_size: int = APPENDIX_A["mnist"]["batch_size"]
    lr: float = APPENDIX_A["mnist"]["lr"]
    lr_critic: float = APPENDIX_A["mnist"]["lr_critic"]
    lr_halving_epochs: tuple[int, ...] = APPENDIX_A["mnist"]["lr_halving_epochs"]
    adam_betas: tuple[float, float] = ADAM_BETAS
    lam: float = LAMBDA
    latent_penalty: str = "per-chart"
    reconstruction_cost: str = "squared"
    seed: int = 0
    model: str = DEFAULT_MODEL
    likelihood: str = LIKELIHOODS[0]

    def __post_init__(self):
        _check_family(self)
        check_dataset(self.dataset)
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        if self.latent_penalty not in LATENT_PENALTIES:
            raise ValueError(f"latent_penalty must be one of {LATENT_PENALTIES}, "
                             f"got {self.latent_penalty!r}")
        if self.reconstruction_cost not in RECONSTRUCTION_COSTS:
            raise ValueError(f"reconstruction_cost must be one of {RECONSTRUCTION_COSTS}, "
                             f"got {self.reconstruction_cost!r}")

        def check(name, minimum, optional=False):
            value = getattr(self, name)
            if not (optional and value is None):
                object.__setattr__(self, name, _check_int(name, value, minimum))

        for name in ("n_charts", "width_divisor", "epochs", "batch_size"):
            check(name, 1)
        for name in ("width", "latent_dim"):
            check(name, 1, optional=True)
        for name, size in (("train_size", TRAIN_IMAGES), ("test_size", TEST_IMAGES)):
            object.__setattr__(self, name, check_int_at_most(
                name, getattr(self, name), size,
                f"the data set has {size:,} {name[:-5]} images; None takes them all"))
        check("seed", 0)
        for name in ("lr", "lr_critic", "lam"):
            object.__setattr__(self, name, _check_positive(name, getattr(self, name)))
        object.__setattr__(self, "lr_halving_epochs",
                           check_int_sequence("lr_halving_epochs", self.lr_halving_epochs, 1))
        object.__setattr__(self, "adam_betas", check_unit_pair("adam_betas", self.adam_betas))

    @property
    def model_width(self) -> int:
        """h actually used: ``width`` if set, else the equal-budget width of the scale."""
        if self.width is not None:
            return self.width
        if self.model != DEFAULT_MODEL:
            return family_width(self.model, self.n_charts, self.width_divisor, self.latent_dim)
        return scale_width(self.n_charts, self.width_divisor, self.latent_dim)

    @property
    def model_latent_dim(self) -> int:
        """d actually used: ``latent_dim`` if set, else 8 (WAE-GAN) or 7 (AWAE-GAN)."""
        if self.latent_dim is not None:
            return self.latent_dim
        return WAE_LATENT_DIM if self.n_charts == 1 else ATLAS_LATENT_DIM

    @property
    def model_name(self) -> str:
        if self.model != DEFAULT_MODEL:
            return f"{_FAMILY_NAMES[self.model]} (m={self.n_charts})"
        return "WAE-GAN" if self.n_charts == 1 else f"AWAE-GAN (m={self.n_charts})"

    def to_dict(self) -> dict:
        """Every field, except the :data:`FAMILY_FIELDS` that hold their defaults."""
        data = dataclasses.asdict(self)
        for name, default in FAMILY_FIELDS.items():
            if data[name] == default:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config fields {unknown}; accepted: {sorted(known)}")
        return cls(**data)

    def key(self) -> str:
        """A short stable hash of every field and of the architecture they resolve to
        (h and d): the run folder's name. A change of the width rule therefore changes
        the folder, and a run trained with another architecture is never found."""
        fields = dict(self.to_dict(), architecture=dict(h=self.model_width,
                                                        d=self.model_latent_dim))
        text = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)


_FAMILY_NAMES = {"atlas-vae": "Atlas VAE", "cae": "CAE", "infogan": "InfoGAN"}


def _check_family(config: TrainConfig) -> None:
    """``model`` must be a family, ``likelihood`` one the family reads."""
    if config.model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {config.model!r}")
    if config.likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {config.likelihood!r}")
    if config.model != "atlas-vae" and config.likelihood != LIKELIHOODS[0]:
        raise ValueError(f"likelihood={config.likelihood!r} applies to model='atlas-vae' only, "
                         f"got model={config.model!r}")


#: What each scale changes relative to Appendix A (the ``paper`` scale). ``lr_factor``
#: multiplies both of Appendix A's learning rates: a schedule of a few hundred steps
#: instead of 48,000 needs larger steps to get as far (measured in the introduction).
SCALE_OVERRIDES = {
    "paper": dict(),
    "quick": dict(width_divisor=6, train_size=8_000, epochs=6, lr_halving_epochs=(4,),
                  lr_factor=4),
    "smoke": dict(width_divisor=16, train_size=600, test_size=500, epochs=2,
                  lr_halving_epochs=(1,), lr_factor=4),
}

#: What each scale changes further for the known manifolds (:mod:`atlasnb.manifolds`):
#: their images vary in one or two angles only, so the quick scale trains on fewer
#: images, and its test metrics use fewer test images, keeping the book's cost
#: within its budget.
MANIFOLD_SCALE_OVERRIDES = {
    "paper": dict(),
    "quick": dict(train_size=3_000, test_size=2_000, epochs=5, lr_halving_epochs=(4,)),
    "smoke": dict(),
}


def make_config(scale: str = "quick", dataset: str = "mnist", n_charts: int = 1,
                **overrides) -> TrainConfig:
    """The config of ``scale`` for ``dataset`` and ``n_charts``, with overrides.

    ``model`` (one of :data:`MODELS`) picks the family; ``model="infogan"`` sets
    ``lam`` to :data:`INFOGAN_LAMBDA` unless it is given.

    >>> make_config("paper", "fashion-mnist", 8).batch_size
    128
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    check_dataset(dataset)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown config fields {unknown}; accepted: {sorted(fields)}")
    settings = "mnist" if dataset in MANIFOLD_DATASETS else dataset
    values = dict(APPENDIX_A[settings], dataset=dataset, n_charts=n_charts, scale=scale)
    values.update(SCALE_OVERRIDES[scale])
    if dataset in MANIFOLD_DATASETS:
        values.update(MANIFOLD_SCALE_OVERRIDES[scale])
    factor = values.pop("lr_factor", 1)
    values["lr"], values["lr_critic"] = factor * values["lr"], factor * values["lr_critic"]
    if overrides.get("model") == "infogan":
        values["lam"] = INFOGAN_LAMBDA
    values.update(overrides)
    return TrainConfig(**values)
