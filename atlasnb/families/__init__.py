"""The AGM class at work: one module per model family beside the Atlas WAE-GAN.

Derived in {ref}`sec-agm-class`. Every family is built from the Appendix A layers
(:mod:`atlasnb.layers`) with the Atlas WAE-GAN's shared trunks, at the width that
gives it the WAE-GAN's parameter budget at every scale
(:func:`atlasnb.widths.family_width`), and offers the AGM interface:

- :class:`~atlasnb.families.atlas_vae.AtlasVAE`: eqs. (1) and (2);
- :class:`~atlasnb.families.cae.ChartAutoEncoder`: eq. (7);
- :class:`~atlasnb.families.infogan.InfoGAN`: eqs. (3) to (5), a semi-AGM
  (no ``encode``).

``config.model`` names the family (:data:`atlasnb.config.MODELS`); :func:`build_model`
and :func:`build_critic` build what a config describes, and :mod:`atlasnb.train`
picks the family's objective.
"""

from __future__ import annotations

from atlasnb.families.atlas_vae import AtlasVAE, evidence_bound, vae_loss
from atlasnb.families.cae import CHART_LABELS, ChartAutoEncoder, cae_loss, chart_labels
from atlasnb.families.infogan import INFO_LAMBDA, ImageCritic, InfoGAN

__all__ = ["AtlasVAE", "CHART_LABELS", "ChartAutoEncoder", "INFO_LAMBDA", "ImageCritic",
           "InfoGAN", "build_critic", "build_model", "cae_loss", "chart_labels",
           "evidence_bound", "vae_loss"]

_CLASSES = {"atlas-vae": AtlasVAE, "cae": ChartAutoEncoder, "infogan": InfoGAN}


def build_model(config):
    """The model a :class:`atlasnb.config.TrainConfig` describes, of any family."""
    if config.model not in _CLASSES:
        from atlasnb import models  # the Atlas WAE-GAN (and the WAE-GAN for m = 1)
        return models.build_model(config)
    return _CLASSES[config.model](config.n_charts, h=config.model_width,
                                  latent_dim=config.model_latent_dim)


def build_critic(config):
    """The critic a family trains against: the latent critic(s) of the Atlas WAE-GAN, the
    image critic of the InfoGAN, None for the Atlas VAE and the Chart Auto-Encoder."""
    if config.model == "infogan":
        return ImageCritic(config.model_width)
    if config.model in _CLASSES:
        return None
    from atlasnb import models
    return models.build_critic(config)
