"""atlasnb: Atlas Generative Models and graph geodesics across charts.

The package behind the book *Atlas Generative Models and Geodesic Interpolation*.
Each module holds one idea:

- :mod:`atlasnb.agm`: the AGM interface (Definition 1).
- :mod:`atlasnb.data`: MNIST and Fashion-MNIST through torchvision.
- :mod:`atlasnb.layers`: the layers of Appendix A, shared by every model.
- :mod:`atlasnb.models`: WAE-GAN and Atlas WAE-GAN (Appendix A).
- :mod:`atlasnb.families`: the Atlas VAE, the Chart Auto-Encoder and an InfoGAN-type
  semi-AGM.
- :mod:`atlasnb.objective`: the WAE-GAN objective and its atlas version.
- :mod:`atlasnb.config`: training configurations and the three scales.
- :mod:`atlasnb.train`: the training loop.
- :mod:`atlasnb.runs`: run folders, load-or-train.
- :mod:`atlasnb.files`: atomic, group-readable writes with clear disk errors.
- :mod:`atlasnb.paths`: relative ``ATLASNB_RUNS`` / ``ATLASNB_DATA`` made absolute
  before chapters run.
- :mod:`atlasnb.geodesics`: Algorithm 1, A* path search and interpolation.
- :mod:`atlasnb.plots`: the figures of the paper.
"""

__version__ = "0.1.0"
