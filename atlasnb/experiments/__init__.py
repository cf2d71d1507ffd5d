"""The experiments of section 4, computed once per trained model and kept in its run
folder.

Used by {ref}`sec-graph-geodesics` and {ref}`sec-experiments`. One module an idea:

- :mod:`atlasnb.experiments.settings`: the settings of every experiment at every scale;
- :mod:`atlasnb.experiments.cache`: the one way a result is cached (a key from every
  input, damaged files named and computed again, atomic writes);
- :mod:`atlasnb.experiments.geodesic`: a model's graph, test pairs, path lengths and
  interpolations;
- :mod:`atlasnb.experiments.refinement`: graph, straight and refined geodesics side by
  side, and the length scan over N;
- :mod:`atlasnb.experiments.collect`: every model of a grid, as tables.

Table 1 is formatted by :mod:`atlasnb.table1`. The names the chapters use are
importable from here.
"""

from atlasnb.experiments.collect import DATASET_TITLES, Collection, collect, summary_row
from atlasnb.experiments.geodesic import (
    RESULT_VERSION,
    geodesic_experiment,
    graph_path,
    graph_points,
    load_or_build_eager_graph,
    load_or_build_graph,
    search_pairs,
    sharing_graphs,
    test_pairs,
)
from atlasnb.experiments.refinement import (
    KINDS,
    length_scan,
    lengths_table,
    refinement_experiment,
    scan_reference,
)
from atlasnb.experiments.settings import (
    GRAPH_SCALES,
    REFINE_SCALES,
    GraphSettings,
    RefineSettings,
    graph_settings,
    refine_settings,
)

__all__ = ["DATASET_TITLES", "GRAPH_SCALES", "KINDS", "REFINE_SCALES", "RESULT_VERSION",
           "Collection", "GraphSettings", "RefineSettings", "collect", "geodesic_experiment",
           "graph_path", "graph_points", "graph_settings", "length_scan", "lengths_table",
           "load_or_build_eager_graph", "load_or_build_graph", "refine_settings",
           "refinement_experiment", "scan_reference", "search_pairs", "sharing_graphs",
           "summary_row", "test_pairs"]
