"""Table 1 of the paper beside ours: rows, formats and the table itself.

Used in {ref}`sec-experiments`; the numbers come from
:func:`atlasnb.experiments.collect.collect`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atlasnb import paper

#: Table 1's rows: (our row name, the column of ``Collection.summary``, the
#: row of ``atlasnb.paper.TABLE1``), "/ N" rows divided by the number of points.
TABLE1_ROWS = (
    ("continuous dimension", "latent_dim", "continuous dimension"),
    ("trainable parameters", "parameters", "trainable parameters"),
    ("reconstruction error", "reconstruction_error", "reconstruction error"),
    ("graph nodes", "nodes", "graph nodes"),
    ("graph nodes / N", "nodes", "graph nodes"),
    ("graph edges", "edges", "graph edges"),
    ("graph edges / N", "edges", "graph edges"),
    ("graph diameter", "hop_diameter", "graph diameter"),
)
#: How each row of Table 1 is printed.
TABLE1_FORMATS = {"continuous dimension": "{:.0f}", "trainable parameters": "{:,.0f}",
                  "reconstruction error": "{:.4f}", "graph nodes": "{:,.0f}",
                  "graph nodes / N": "{:.3f}", "graph edges": "{:,.0f}",
                  "graph edges / N": "{:.2f}", "graph diameter": "{:.0f}"}


def column_name(n_charts: int) -> str:
    """Table 1's column heading: "WAE-GAN" for one chart, else "m = <n_charts>"."""
    return "WAE-GAN" if n_charts == 1 else f"m = {n_charts}"


def table1(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Table 1 for ``dataset``: our value and the paper's for every row and model.

    Rows are a MultiIndex (quantity, "ours" / "paper"); columns are the models in
    ``summary`` ("WAE-GAN", "m = 2", ...). The "/ N" rows divide by the number of
    data points in the graph (ours: the ``n_points`` of the run, the paper's:
    2000), so that graphs built from different N compare fairly. The paper's
    values are NaN for chart counts it did not report.
    """
    models = summary.loc[dataset].sort_index()
    paper_n = paper.GRAPH_SETTINGS["n_points"]
    table = {}
    for name, column, paper_row in TABLE1_ROWS:
        per_n = name.endswith("/ N")
        ours = models[column] / models["n_points"] if per_n else models[column]
        theirs = []
        for m in models.index:
            value = paper.table1_value(paper_row, int(m), dataset)
            theirs.append(np.nan if value is None else value / paper_n if per_n else value)
        table[name, "ours"] = ours.astype(float).to_numpy()
        table[name, "paper"] = np.asarray(theirs, dtype=float)
    frame = pd.DataFrame(table, index=[column_name(int(m)) for m in models.index]).T
    frame.index.names = ["quantity", "source"]
    frame.columns.name = "model"
    return frame


def format_table1(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`table1` as strings, each row in its own format ("–" where missing)."""
    formatted = table.copy().astype(object)
    for (quantity, source), row in table.iterrows():
        formatted.loc[(quantity, source)] = [
            "–" if not np.isfinite(v) else TABLE1_FORMATS[quantity].format(v) for v in row]
    return formatted
