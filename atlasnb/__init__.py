"""atlasnb: Atlas Generative Models and graph geodesics across charts.

The package behind the book *Atlas Generative Models and Geodesic Interpolation*.
Each module holds one idea:

- :mod:`atlasnb.agm`: the AGM interface (Definition 1).
- :mod:`atlasnb.toy`: hand-written atlas models of a circle, with known geometry.
- :mod:`atlasnb.checks`: argument checks shared by every module.
- :mod:`atlasnb.paper`: the paper's constants, in one place.
- :mod:`atlasnb.config`: training configurations and the three scales.
- :mod:`atlasnb.widths`: model widths with equal parameter budgets.
- :mod:`atlasnb.datasets`: the names of the data sets, checked in one place.
- :mod:`atlasnb.data`: MNIST and Fashion-MNIST through torchvision, and the known manifolds.
- :mod:`atlasnb.manifolds`: images on a rotation circle and a rotation-shift torus, with
  exact geodesic distances.
- :mod:`atlasnb.torus_geodesics`: the torus's distances, computed from its generator.
- :mod:`atlasnb.known_truth`: the test pairs' true distances, computed once per data set.
- :mod:`atlasnb.known_experiment`: trained models' geodesics against those distances.
- :mod:`atlasnb.layers`: the layers of Appendix A, shared by every model.
- :mod:`atlasnb.models`: WAE-GAN and Atlas WAE-GAN (Appendix A).
- :mod:`atlasnb.families`: the Atlas VAE, the Chart Auto-Encoder and an InfoGAN-type
  semi-AGM.
- :mod:`atlasnb.objective`: the WAE-GAN objective and its atlas version.
- :mod:`atlasnb.train`: the training loop.
- :mod:`atlasnb.reproducibility`: seeding and the device choice.
- :mod:`atlasnb.runs`: run folders, load-or-train.
- :mod:`atlasnb.files`: atomic, group-readable writes with clear disk errors.
- :mod:`atlasnb.paths`: relative ``ATLASNB_RUNS`` / ``ATLASNB_DATA`` made absolute
  before chapters run.
- :mod:`atlasnb.metrics`: Table 1's reconstruction error and Figure 2's chart metrics.
- :mod:`atlasnb.geodesics`: Algorithm 1, A* path search and interpolation.
- :mod:`atlasnb.experiments`: the experiments of section 4 (settings, one cache, the
  geodesic and refinement experiments, the grid's tables), cached per model.
- :mod:`atlasnb.table1`: Table 1 of the paper beside ours.
- :mod:`atlasnb.family_experiment`: section 4's experiment for every AGM family.
- :mod:`atlasnb.fingerprint`: which model a saved graph or cached result belongs to.
- :mod:`atlasnb.replicates`: section 4's numbers over several seeds.
- :mod:`atlasnb.lengths`: one resolution for every path length.
- :mod:`atlasnb.findings`: the paper's claims, each judged by a tested rule.
- :mod:`atlasnb.plots`: the figures of the paper.
- :mod:`atlasnb.book`: building and running the book (chapters, sweeps, preparation).
"""

__version__ = "0.1.0"
