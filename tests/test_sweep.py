"""Sweeps one after another and on a local Dask cluster; the book's preparation; the
command line's answers to bad values; Ctrl-C during a sweep."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from atlasnb.__main__ import main, scheduler_address
from atlasnb.book.chapters import BOOK_ROOT
from atlasnb.book.configs import BookConfig, grid
from atlasnb.book.prepare import book_configs, prepare
from atlasnb.book.summary import print_summary
from atlasnb.book.sweep import chapter_points, sweep_tasks, train_point
from atlasnb.book.tasks import Outcome, _failed, execute
from atlasnb.config import make_config
from atlasnb.runs import run_path

SCALE = "smoke"
POINTS = grid(["mnist", "fashion-mnist"], [1, 2])


def run(root, points, workers=None):
    """The sweep's outcomes for ``points`` with ``root`` as runs folder, by point."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATLASNB_RUNS", str(root))
        # One thread in the sequential sweep too, as in each Dask worker of a 2-core
        # machine: the same arithmetic, hence the same numbers. Its trainings run in
        # this process, its chapters in kernels.
        patch.setenv("OMP_NUM_THREADS", "1")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            outcomes, interrupted = execute(sweep_tasks(points, SCALE, BOOK_ROOT), SCALE,
                                            workers=workers)
        finally:
            torch.set_num_threads(threads)
    assert not interrupted
    trained = [o for o in outcomes if o.kind == "train"]
    assert len(trained) == len({o.point for o in trained}), "a model was trained twice"
    return {outcome.point: outcome for outcome in outcomes if outcome.kind == "chapter"}


def folder(root, point):
    return run_path(make_config(SCALE, point.dataset, point.n_charts, seed=point.seed), root)


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    root = tmp_path_factory.mktemp("sequential")
    return root, run(root, POINTS)


def without_device(metrics):
    return {k: v for k, v in metrics.items() if k != "device"}


def test_dask_sweep_matches_sequential_reuses_and_reports_failures(sequential, tmp_path,
                                                                    capsys):
    pytest.importorskip("distributed")
    sequential_root, sequential_outcomes = sequential
    assert all(o.ok for o in sequential_outcomes.values()), sequential_outcomes
    root = tmp_path / "dask"
    first = run(root, POINTS, workers=2)
    assert set(first) == set(POINTS)
    for point in POINTS:
        assert first[point].ok, first[point].error
        on_disk = json.loads((folder(root, point) / "metrics.json").read_text())
        expected = json.loads((folder(sequential_root, point) / "metrics.json").read_text())
        assert without_device(on_disk) == without_device(expected), point
        assert first[point].metrics == on_disk

    # A second run reuses every run folder; a sabotaged one fails alone.
    checkpoints = {p: folder(root, p) / "checkpoint.pt" for p in POINTS}
    mtimes = {p: path.stat().st_mtime_ns for p, path in checkpoints.items()}
    broken = BookConfig("mnist", 1, seed=7)
    broken_folder = folder(root, broken)
    broken_folder.mkdir(parents=True)
    other = make_config(SCALE, "mnist", 1, seed=0).to_dict()
    (broken_folder / "config.json").write_text(json.dumps(other))
    second = run(root, POINTS + [broken], workers=2)
    for point in POINTS:
        assert second[point].ok, second[point].error
        assert checkpoints[point].stat().st_mtime_ns == mtimes[point], f"{point} retrained"
        assert second[point].metrics == first[point].metrics
    failure = second[broken]
    assert not failure.ok
    # The broken point's training fails, so its chapter does not start: its outcome
    # names the training and its error, and no notebook is written.
    assert failure.error.startswith("not started, as what it needs failed: train "
                                    f"{broken.label()} (ConfigMismatchError: ")
    assert "seed" in failure.error  # the training's whole message
    assert failure.notebook == ""
    assert not (broken_folder / "atlas_wae_gan.ipynb").exists()
    assert print_summary(list(second.values()), len(second)) == 1
    printed = capsys.readouterr().out
    assert f"FAILED train {broken.label()}: ConfigMismatchError" in printed
    assert "1 task(s) failed" in printed and "(none written)" in printed


def test_sweep_trains_each_model_once_before_the_chapters_that_load_it():
    tasks = sweep_tasks(POINTS, SCALE, BOOK_ROOT)
    trainings = [t for t in tasks if t.function is train_point]
    chapters = tasks[len(trainings):]
    assert [t.point for t in chapters] == POINTS
    # Per-chart models of both data sets for m = 1, 2, and the joint reading for m = 2.
    joint = (("latent_penalty", "joint"),)
    assert {t.point for t in trainings} == set(POINTS) | {
        BookConfig(d, 2, 0, joint) for d in ("mnist", "fashion-mnist")}
    keys = {t.point: t.key for t in trainings}
    for chapter in chapters:
        assert set(chapter.after) == {keys[p] for p in chapter_points(chapter.point)}
    assert set(chapter_points(BookConfig("mnist", 1))) == {BookConfig("mnist", 1),
                                                      BookConfig("fashion-mnist", 1)}
    with pytest.raises(ValueError, match="must come after"):
        execute(chapters[:1], SCALE)
    # A task whose worker died is reported with its kind, so a chapter stays a chapter.
    died = RuntimeError("worker died")
    assert [_failed(t, died, 0.0).kind for t in (trainings[0], chapters[0])] == \
        ["train", "chapter"]


def test_chapters_load_only_models_the_sweep_trained_first(sequential):
    root, _ = sequential
    trained = {run_path(p.config(SCALE), root).name
               for point in POINTS for p in chapter_points(point)}
    on_disk = {f.name for f in root.iterdir() if (f / "config.json").exists()}
    assert on_disk == trained


def test_summary_gives_mean_and_spread_over_seeds(capsys):
    outcomes = [Outcome(BookConfig("mnist", 2, seed), f"/runs/{seed}", ok=True,
                        metrics={"parameters": 10, "reconstruction_error": error,
                                 "confidence_median": 0.5, "confidence_mean": 0.5,
                                 "labels_per_chart": [3, 4]})
                for seed, error in ((0, 0.1), (1, 0.3))]
    assert print_summary(outcomes, 2) == 0
    printed = capsys.readouterr().out
    assert "mean ± standard deviation over seeds" in printed
    spread = printed.split("over seeds")[1]
    # reconstruction_error: mean 0.2, sample standard deviation 0.1414 over two seeds.
    assert "0.2000 ± 0.1414" in spread
    assert "0.5000 ± 0.0000" in spread


def test_interrupted_summary_says_how_to_resume(capsys):
    done = Outcome(BookConfig("mnist", 1), "/runs/a", ok=True, metrics={"parameters": 1})
    assert print_summary([done], 3, interrupted=True) == 130
    assert "1 of 3 configurations finished; run again to resume" in capsys.readouterr().out


def test_book_configs_cover_the_experiments_grid():
    points = book_configs("quick")
    from atlasnb.known_experiment import MANIFOLD_POINTS

    assert {(p.dataset, p.n_charts, p.seed) for p in points} == {
        (d, m, 0) for d in ("mnist", "fashion-mnist") for m in (1, 2, 4, 8, 16)} | {
        (p.dataset, p.n_charts, p.seed) for p in MANIFOLD_POINTS}
    with pytest.raises(ValueError, match="scale"):
        book_configs("huge")


def test_prepare_runs_the_geodesic_experiment_once(sequential, tmp_path, monkeypatch):
    source, _ = sequential
    point = BookConfig("mnist", 2)
    root = tmp_path / "runs"
    shutil.copytree(folder(source, point), folder(root, point))
    monkeypatch.setenv("ATLASNB_RUNS", str(root))
    assert prepare(SCALE, configs=[point]) == 0
    results = sorted(folder(root, point).glob("geodesics-*.json"))
    assert len(results) == 1
    written = results[0].stat().st_mtime_ns
    assert prepare(SCALE, configs=[point]) == 0
    assert results[0].stat().st_mtime_ns == written


@pytest.mark.parametrize("argv, option", [
    (["sweep", "--seed", "-1"], "--seed"),
    (["sweep", "--seeds", "0", "x"], "--seed"),
    (["sweep", "--charts", "0"], "--charts"),
    (["sweep", "--charts", "2.5"], "--charts"),
    (["sweep", "--charts", "2", "2"], "--charts"),
    (["sweep", "--dataset", "cifar"], "--dataset"),
    (["sweep", "--scale", "huge"], "--scale"),
    (["sweep", "--workers", "0"], "--workers"),
    (["sweep", "--workers", "two"], "--workers"),
    (["sweep", "--scheduler", "not an address"], "--scheduler"),
    (["sweep", "--scheduler", "tcp://host:99999"], "--scheduler"),
    (["sweep", "--workers", "2", "--scheduler", "tcp://host:8786"], "--scheduler"),
    (["prepare", "--workers", "-3"], "--workers"),
    (["prepare", "--scale", "big"], "--scale"),
    (["notebooks", "--out", str(BOOK_ROOT / "README.md")], "--out"),
    (["notebooks", "--out", str(BOOK_ROOT / "README.md" / "sub")], "--out"),
    (["--book-root", "/nonexistent", "sweep"], "--book-root"),
])
def test_bad_option_values_exit_2_naming_the_option(argv, option, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert option in error and "Traceback" not in error


def test_prepare_refuses_a_bad_scale_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("ATLASNB_SCALE", "fast")
    with pytest.raises(SystemExit) as stop:
        main(["prepare"])
    assert stop.value.code == 2
    assert "ATLASNB_SCALE is 'fast'" in capsys.readouterr().err


def test_scheduler_addresses():
    assert scheduler_address("10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert scheduler_address("tls://node-3.cluster:8786") == "tls://node-3.cluster:8786"


def test_ctrl_c_stops_cleanly_with_a_summary(sequential, tmp_path):
    source, _ = sequential
    root = tmp_path / "runs"
    points = [BookConfig("mnist", 1), BookConfig("mnist", 2)]
    for point in points:  # finished runs: only the chapter executes, no training
        shutil.copytree(folder(source, point), folder(root, point))
    env = dict(os.environ, ATLASNB_RUNS=str(root), PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(BOOK_ROOT), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "atlasnb", "sweep", "--scale", SCALE, "--charts", "1", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        # A shell's background job ignores SIGINT; give the sweep the usual handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("done mnist m=1"):
            break
    time.sleep(2)  # into the second configuration's notebook
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=120)
    printed = "".join(lines) + out
    assert process.returncode == 130, printed
    assert "1 of 2 configurations finished; run again to resume" in printed
    assert str(folder(root, points[0])) in printed
