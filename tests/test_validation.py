"""Inputs that used to be taken silently or failed deep inside a library: a graph of
another model, tampered saved arrays, odd edge ids, invalid or foreign paths, images
off the [0, 1] scale, settings of the wrong type or range, and faults of the runs
folder a sweep meets. Each test shows the failure it guards against."""

import dataclasses
import math
import os
import shutil
import warnings

import numpy as np
import pytest
import torch

from atlasnb import experiments, files, geodesics, models, runs, toy
from atlasnb.book import sweep
from atlasnb.book.configs import BookConfig
from atlasnb.book.tasks import Outcome, Task, execute
from atlasnb.config import make_config
from atlasnb.experiments import cache
from atlasnb.fingerprint import ModelMismatchError, model_fingerprint

TINY = dict(width=2, train_size=200, test_size=100, epochs=1, batch_size=50,
            lr_halving_epochs=(1,))
SETTINGS = experiments.graph_settings("smoke", n_points=40, k=4, n_steps=4, n_pairs=2,
                                      n_interpolations=1, interpolation_points=3)


def circle_graph(**atlas):
    circle = toy.CircleAtlas(ambient_dim=3, **atlas)
    return circle, geodesics.build_atlas_graph(circle, circle.sample(120, seed=1), k=6,
                                               progress=False)


@pytest.fixture(scope="module")
def circle():
    circle, graph = circle_graph()
    path = geodesics.shortest_path(graph, circle.embed(torch.tensor([0.2], dtype=torch.float64))[0],
                                   circle.embed(torch.tensor([2.8], dtype=torch.float64))[0])
    return circle, graph, path


# ---------------------------------------------------------------- a graph knows its model


def test_a_graph_attached_to_another_model_is_refused(circle):
    atlas, graph, _ = circle
    arrays = graph.to_arrays()
    others = {"n_charts": toy.CircleAtlas(ambient_dim=3, n_charts=4),
              "architecture": toy.SphereAtlas(ambient_dim=3),
              "weights": toy.CircleAtlas(ambient_dim=3, radius=2.0)}
    for differs, other in others.items():
        with pytest.raises(ModelMismatchError, match=rf"^the graph was made by another model "
                                                     rf"than the one given \({differs} "):
            geodesics.AtlasGraph.from_arrays(other, arrays)
    same = toy.CircleAtlas(ambient_dim=3)  # built anew: the same identity
    assert geodesics.AtlasGraph.from_arrays(same, arrays).n_nodes == graph.n_nodes


def test_a_trained_models_fingerprint_follows_its_weights():
    model = models.AtlasWAEGAN(n_charts=2, h=2, latent_dim=3)
    before = model_fingerprint(model)
    assert before == model_fingerprint(model)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    after = model_fingerprint(model)
    assert after["weights"] != before["weights"]
    assert {k: v for k, v in after.items() if k != "weights"} == {
        k: v for k, v in before.items() if k != "weights"}


def test_a_graph_or_result_copied_from_another_run_folder_is_made_again(runs_root):
    small, large = (runs.load_or_train(make_config("smoke", "mnist", m, **TINY),
                                       device="cpu", progress=False) for m in (2, 4))
    experiments.geodesic_experiment(large, SETTINGS, progress=False)
    own = experiments.geodesic_experiment(small, SETTINGS, progress=False)
    graph_file = experiments.graph_path(small, SETTINGS)
    result_file, large_file = (cache.cache_path(run.path, "geodesics", {"settings": SETTINGS},
                                                run.model, experiments.RESULT_VERSION)
                               for run in (small, large))
    # Copied under this run's names: a graph and a result of the m = 4 model.
    shutil.copy(experiments.graph_path(large, SETTINGS), graph_file)
    for suffix in (".json", ".pt"):
        shutil.copy(large_file.with_suffix(suffix), result_file.with_suffix(suffix))
    with pytest.warns(RuntimeWarning) as caught:
        again = experiments.geodesic_experiment(small, SETTINGS, progress=False)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith(f"{result_file} was computed by another model than this "
                            "run's (n_charts 4 there, 2 here") for m in messages), messages
    assert any(m.startswith(f"{graph_file} holds a graph of another model than this "
                            "run's (n_charts 4 there, 2 here") for m in messages), messages
    assert again["statistics"]["nodes"] == own["statistics"]["nodes"]
    graph, _ = experiments.load_or_build_graph(small, SETTINGS, progress=False)
    assert graph.n_charts == 2


# ---------------------------------------------------------------- saved arrays checked


def _tampered(arrays, change):
    arrays = dict(arrays)
    change(arrays)
    return arrays


TAMPERING = {
    "chart_offsets changed": (lambda a: a.update(chart_offsets=a["chart_offsets"] + 1),
                              "chart_offsets is"),
    "edges shorter": (lambda a: a.update(edges=a["edges"][:-3]), "edge_weights has shape"),
    "negative edge id": (lambda a: a.update(edges=torch.cat([a["edges"][:1] * 0 - 1,
                                                             a["edges"][1:]])),
                         "edges hold node ids from -1"),
    "edge id too large": (lambda a: a.update(edges=a["edges"] * 1000),
                          "outside [0, "),
    "fewer latent rows": (lambda a: a.update(node_latent=a["node_latent"][:-1]),
                          "node_latent has shape"),
    "NaN weights": (lambda a: a.update(edge_weights=a["edge_weights"] * float("nan")),
                    "edge_weights holds NaN, infinite or negative values"),
    "negative weights": (lambda a: a.update(edge_weights=-a["edge_weights"] - 1),
                         "edge_weights holds NaN, infinite or negative values"),
    "missing key": (lambda a: a.pop("edge_bounds"), "it lacks the keys ['edge_bounds']"),
    "numpy arrays": (lambda a: a.update(edges=a["edges"].numpy()),
                     "edges is a ndarray, not a torch tensor"),
    "wrong dtype": (lambda a: a.update(edges=a["edges"].int()),
                    "edges has dtype torch.int32, not torch.int64"),
    "charts out of range": (lambda a: a.update(node_chart=a["node_chart"] + 5),
                            "node_chart holds charts from 5"),
}


@pytest.mark.parametrize("tampering", TAMPERING)
def test_tampered_arrays_are_refused_naming_the_first_thing_wrong(circle, tampering):
    atlas, graph, _ = circle
    change, words = TAMPERING[tampering]
    with pytest.raises(ValueError, match=r"^the saved graph is damaged: ") as error:
        geodesics.AtlasGraph.from_arrays(atlas, _tampered(graph.to_arrays(), change))
    assert words in str(error.value)


def test_a_graph_of_an_older_layout_is_refused(circle):
    atlas, graph, _ = circle
    arrays = dict(graph.to_arrays(), layout=1)
    with pytest.raises(ValueError, match="layout 2, got layout 1 .* build it again"):
        geodesics.AtlasGraph.from_arrays(atlas, arrays)


# ---------------------------------------------------------------- edge ids and masks


def test_edge_masks_select_edges_and_anything_else_but_ids_is_refused():
    atlas, graph = circle_graph()
    mask = np.zeros(len(graph.edges), dtype=bool)
    mask[[3, 7]] = ~graph.edge_exact[[3, 7]]
    graph.evaluate(mask)
    assert graph.edge_exact[[3, 7]].all()  # the mask's edges, not edges 0 and 1
    assert not graph.edge_exact[[0, 1]].any() or graph.edge_cross[[0, 1]].all()
    with pytest.raises(ValueError, match=rf"boolean array of length {len(graph.edges)}"):
        graph.evaluate(mask[:-1])
    for bad in (np.array([1.7, 2.0]), None, [float("nan")], torch.tensor([0.5])):
        with pytest.raises(TypeError, match="edge_ids must be integer edge ids or a boolean "
                                            "mask"):
            graph.evaluate(bad)
    assert graph.evaluate(np.array([], dtype=np.int64)) == 0


# ---------------------------------------------------------------- paths where they enter


def _with(path, **changes):
    return dataclasses.replace(path, **changes)


@pytest.mark.parametrize("entry", ["measure_path", "refine", "interpolate"])
def test_invalid_paths_are_refused_where_they_enter(circle, entry):
    atlas, graph, path = circle
    call = {"measure_path": lambda p: geodesics.measure_path(graph, p),
            "refine": lambda p: geodesics.refine(graph, p, n_iterations=1),
            "interpolate": lambda p: geodesics.interpolate(graph, p, 4)}[entry]
    latents = path.latents.clone()
    latents[1, 0] = float("nan")
    bad = {"latents holds NaN or infinite values": _with(path, latents=latents),
           "cross has": _with(path, cross=path.cross[:-1]),
           "steps must be a list of": _with(path, steps=path.steps[:-1]),
           "images must be a floating point tensor with one row per point":
               _with(path, images=path.images[:-1])}
    for words, broken in bad.items():
        with pytest.raises(ValueError, match=r"^the path is not a valid GeodesicPath: ") \
                as error:
            call(broken)
        assert words in str(error.value)
    with pytest.raises(ModelMismatchError, match="^the path does not belong to this model"):
        call(_with(path, charts=path.charts + 3, cross=path.cross))
    with pytest.raises(TypeError, match="path must be a GeodesicPath"):
        call({"latents": path.latents})


def test_a_float64_model_takes_a_float32_path():
    model = models.AtlasWAEGAN(n_charts=2, h=2, latent_dim=3).double().eval()
    x = torch.rand(30, 1, 28, 28, generator=torch.Generator().manual_seed(0),
                   dtype=torch.float64)
    graph = geodesics.build_atlas_graph(model, x, k=4, n_steps=3, progress=False)
    path = geodesics.shortest_path(graph, x[0], x[1])
    single = _with(path, latents=path.latents.float(), images=path.images.float())
    measured = geodesics.measure_path(graph, single, n_steps=3)
    exact = geodesics.measure_path(graph, _with(path, latents=single.latents.double(),
                                                images=single.images.double()), n_steps=3)
    assert measured.latents.dtype == torch.float64
    assert measured.length == exact.length  # the same float64 computation
    assert len(geodesics.interpolate(graph, single, 3).labels) == 3


# ---------------------------------------------------------------- images on the wrong scale


def test_the_packages_models_refuse_images_off_the_unit_scale():
    model = models.AtlasWAEGAN(n_charts=2, h=2, latent_dim=3).eval()
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    model.partition(x)  # in [0, 1]: taken
    for method in (model.partition, model.encode):
        with pytest.raises(ValueError, match=r"^x holds values from 0\S* to 25\S*, but this "
                                             r"model takes images in \[0, 1\]; convert them "
                                             r"first, e.g. x / 255"):
            method(x * 255)
    graph = geodesics.build_atlas_graph(model, x, k=2, n_steps=2, progress=False)
    with pytest.raises(ValueError, match="x holds values from .* x / 255"):
        geodesics.shortest_path(graph, x[0] * 255, x[1] * 255)


def test_hand_written_atlases_keep_any_range():
    atlas = toy.CircleAtlas(ambient_dim=3, radius=300.0)
    x = atlas.sample(5, seed=0)
    assert float(x.abs().max()) > 1
    assert atlas.partition(x).shape == (5, 2)


# ---------------------------------------------------------------- settings on construction


@pytest.mark.parametrize("changes, message", [
    (dict(train_size=100_000), "train_size must be at most 60,000 (the data set has 60,000 "
                               "train images; None takes them all), got 100000"),
    (dict(test_size=20_000), "test_size must be at most 10,000"),
    (dict(lam=math.inf), "lam must be a finite positive number, got inf"),
    (dict(lr="0.001"), "lr must be a positive number, got '0.001'"),
    (dict(lr_halving_epochs=5), "lr_halving_epochs must be a list or tuple of integers >= 1, "
                                "got 5; e.g. (5,) for one entry"),
    (dict(adam_betas=("0.5", "0.9")), "adam_betas must be two numbers in [0, 1), got "),
    (dict(adam_betas=0.5), "adam_betas must be two numbers in [0, 1), got 0.5"),
    (dict(batch_size=0), "batch_size must be an integer >= 1, got 0"),
])
def test_bad_config_values_are_refused_on_construction(changes, message):
    with pytest.raises(ValueError) as error:
        make_config("smoke", "mnist", 2, **changes)
    assert message in str(error.value)


@pytest.mark.parametrize("make, changes, message", [
    (experiments.refine_settings, dict(points_per_run=1),
     "points_per_run must be an integer >= 2, got 1"),
    (experiments.refine_settings, dict(n_frames=0), "n_frames must be an integer >= 2, got 0"),
    (experiments.refine_settings, dict(scan_points=1000),
     "scan_points must be a list or tuple of integers >= 2"),
    (experiments.graph_settings, dict(interpolation_points=1),
     "interpolation_points must be an integer >= 2, got 1"),
    (experiments.graph_settings, dict(eps="0.1"), "eps must be a number in [0, 1), got '0.1'"),
    (experiments.graph_settings, dict(n_point=10),
     "unknown GraphSettings fields ['n_point']; accepted: ['eps', 'insert', "),
    (experiments.refine_settings, dict(frames=3),
     "unknown RefineSettings fields ['frames']; accepted: ['n_frames', 'n_iterations', "),
])
def test_bad_settings_are_refused_on_construction(make, changes, message):
    with pytest.raises(ValueError) as error:
        make("smoke", **changes)
    assert message in str(error.value)


def test_interpolate_needs_two_points(circle):
    _, graph, path = circle
    with pytest.raises(ValueError, match="n_points must be an integer >= 2, got 1"):
        geodesics.interpolate(graph, path, 1)


# ---------------------------------------------------------------- run and runs folders


def test_an_empty_path_and_a_lock_folder_are_refused(tmp_path, monkeypatch):
    config = make_config("smoke", "mnist", 2, **TINY)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="path must be a run folder .* got ''; an empty path "
                                         "would train into the current folder"):
        runs.load_or_train(config, path="", device="cpu", progress=False)
    assert list(tmp_path.iterdir()) == []  # nothing trained here
    (tmp_path / "run" / "run.lock").mkdir(parents=True)
    with pytest.raises(files.RunFolderError, match=r"run\.lock is not a file .* remove it"):
        runs.load_or_train(config, path=tmp_path / "run", device="cpu", progress=False)


def test_a_runs_folder_that_is_a_file_or_read_only_is_refused_before_work(tmp_path,
                                                                          monkeypatch):
    started = []
    monkeypatch.setattr(sweep, "execute", lambda *a, **k: started.append(a) or ([], False))
    monkeypatch.setenv("ATLASNB_RUNS", str(tmp_path / "a file"))
    (tmp_path / "a file").write_text("")
    with pytest.raises(files.RunFolderError, match="is a file, not a folder; point "
                                                  "ATLASNB_RUNS at a folder"):
        sweep.sweep([BookConfig("mnist", 1)], "smoke", ".")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        monkeypatch.setenv("ATLASNB_RUNS", str(locked))
        try:
            with pytest.raises(files.RunFolderError, match="cannot be written"):
                sweep.sweep([BookConfig("mnist", 1)], "smoke", ".")
        finally:
            locked.chmod(0o700)
    assert started == []


def _train_fails(point, scale, environ, gpus):
    return Outcome(point, "", ok=False, error="RunFileError: broken", kind="train")


def _chapter_runs(point, scale, environ, gpus):
    raise AssertionError("a chapter whose model failed must not start")


def test_a_chapter_does_not_start_when_its_model_failed(tmp_path, monkeypatch):
    monkeypatch.setenv("ATLASNB_RUNS", str(tmp_path))
    point = BookConfig("mnist", 2)
    tasks = [Task("train-a", point, _train_fails),
             Task("chapter-a", point, _chapter_runs, folder="f", after=("train-a",))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcomes, interrupted = execute(tasks, "smoke")
    chapter = outcomes[-1]
    assert not interrupted and not chapter.ok and chapter.kind == "chapter"
    assert chapter.error == ("not started, as what it needs failed: train mnist m=2 seed=0 "
                             "(RunFileError: broken)")
    assert chapter.notebook == ""
