"""atlasnb.book.plan: each chapter's needs declared once, their union checked, and a
preparation task that reads each graph once and never repeats a search."""

import pytest
import torch

from atlasnb import geodesics
from atlasnb.book import plan, prepare
from atlasnb.book.configs import BookConfig

TINY = (("batch_size", 50), ("epochs", 1), ("lr_halving_epochs", (1,)), ("test_size", 100),
        ("train_size", 200), ("width", 2))
#: A tiny graph and refinement, as overrides of a need's settings.
SMALL = (("k", 4), ("n_frames", 3), ("n_interpolations", 1), ("n_iterations", 2),
         ("n_pairs", 4), ("n_points", 40), ("n_shown", 1), ("n_steps", 4),
         ("interpolation_points", 3), ("scan_pairs", 2), ("scan_points", (20, 40)))


def test_the_books_plan_has_no_conflict_and_orders_what_it_reads():
    planned = plan.plan("smoke")
    atlas = BookConfig("mnist", 8, 0)
    assert list(planned[atlas]) == ["train", "geodesics", "refinement", "scan", "eager-graph"]
    assert BookConfig("mnist", 8, 0, (("latent_penalty", "joint"),)) in planned
    assert len(planned) == len(set(planned))


def test_two_chapters_declaring_one_experiment_differently_conflict():
    model = BookConfig("mnist", 8, 0)
    agreeing = {"a": (plan.Need("geodesics", model),),
                "b": (plan.Need("geodesics", model), plan.Need("scan", model))}
    assert list(plan.check_plan(agreeing)[model]) == ["geodesics", "refinement", "scan"]
    conflicting = {"a": (plan.Need("geodesics", model),),
                   "b": (plan.Need("geodesics", model, (("n_points", 500),)),)}
    with pytest.raises(plan.PlanConflictError) as error:
        plan.check_plan(conflicting)
    message = str(error.value)
    assert "'a' and 'b'" in message and "'geodesics'" in message and "mnist m=8" in message
    assert "{'n_points': 500}" in message
    # A dependency read with other settings conflicts too: the scan's graph of N = 500.
    with pytest.raises(plan.PlanConflictError, match="'geodesics'"):
        plan.check_plan({"a": (plan.Need("geodesics", model),),
                         "b": (plan.Need("scan", model, (("n_points", 500),)),)})
    with pytest.raises(ValueError, match="experiment must be one of"):
        plan.Need("geodesic", model)


def test_a_preparation_task_reads_its_graph_once_and_searches_once(runs_root, monkeypatch):
    config = BookConfig("mnist", 2, 0, TINY)
    todo = dict.fromkeys(("train", "geodesics", "refinement", "scan", "eager-graph"), SMALL)
    first = prepare.prepare_config(config, "smoke", {}, 0, todo)
    assert first.ok, first.error
    folder = next(runs_root.iterdir())
    assert (prepare.prepare_tasks({config: todo}, "smoke")[0].folder == str(folder))
    for result in [*folder.glob("geodesics-*"), *folder.glob("refinement-*"),
                   *folder.glob("graph-eager-*")]:
        result.unlink()  # the graph file stays: the next task must read it
    loads, searches = [], []
    load, search = torch.load, geodesics.shortest_path

    def counting_load(path, *args, **kwargs):
        loads.append(str(path))
        return load(path, *args, **kwargs)

    def counting_search(*args, **kwargs):
        searches.append(1)
        return search(*args, **kwargs)

    monkeypatch.setattr(torch, "load", counting_load)
    monkeypatch.setattr(geodesics, "shortest_path", counting_search)
    again = prepare.prepare_config(config, "smoke", {}, 0, todo)
    assert again.ok, again.error
    graph_reads = [p for p in loads if "/graph-" in p and "graph-eager" not in p]
    assert len(graph_reads) == 1, loads
    # 4 test pairs searched by the geodesic experiment, none again by the refinement,
    # 2 by the scan on its 20-point graph (its 40-point graph is the experiment's).
    assert len(searches) == 4 + 2
