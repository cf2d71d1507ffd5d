"""Faults a run folder meets: damaged or foreign files, two processes at once,
read-only and full disks, shared folders, odd spellings of devices and integers,
relative paths in the environment."""

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from filelock import FileLock

from atlasnb import files, geodesics, metrics, models, paths, runs, toy, train
from atlasnb.config import make_config
from atlasnb.data import load_images
from atlasnb.reproducibility import choose_device, seed_everything

REPO = Path(__file__).resolve().parents[1]


def tiny_config(**changes):
    values = dict(train_size=200, test_size=100, epochs=2, batch_size=50, width=2,
                  lr_halving_epochs=(1,))
    values.update(changes)
    return make_config("smoke", "mnist", 2, **values)


def log_epochs(path):
    return [json.loads(line)["epoch"] for line in (path / "train.log").read_text().splitlines()]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished one-epoch run, copied afresh for each test by ``copy_of``."""
    config = tiny_config(epochs=1)
    path = tmp_path_factory.mktemp("finished") / "run"
    runs.load_or_train(config, path=path, device="cpu", progress=False)
    return config, path


@pytest.fixture(scope="module")
def halfway(tmp_path_factory):
    """A two-epoch run stopped after its first epoch (a resumable checkpoint)."""
    config = tiny_config()
    path = tmp_path_factory.mktemp("halfway") / "run"
    runs.load_or_train(config, path=path, device="cpu", progress=False, stop_after_epoch=1)
    return config, path


def copy_of(run, tmp_path):
    config, path = run
    copy = tmp_path / "run"
    shutil.copytree(path, copy)
    (copy / "run.lock").unlink(missing_ok=True)
    return config, copy


def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(train.Trainer, "train_epoch", refuse)


# Damaged or foreign files of a run folder -------------------------------------------

def _truncated(file):
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def _foreign(file):
    file.write_bytes(b"this is a text file, not a checkpoint\n")


def _a_list(file):
    torch.save([1, 2, 3], file)


def _another_architecture(file):
    state = torch.load(file, weights_only=False)
    config = runs.TrainConfig.from_dict(state["config"])
    state["model"] = models.build_model(config.replace(width=3)).state_dict()
    torch.save(state, file)


@pytest.mark.parametrize("damage, problem", [
    (_truncated, r"cannot be read as a checkpoint .*truncated or not an atlasnb checkpoint"),
    (_foreign, r"cannot be read as a checkpoint"),
    (_a_list, r"is not an atlasnb checkpoint \(it lacks \['epoch'"),
    (_another_architecture, r"holds weights of another architecture than its config "
                            r"\(RuntimeError: Error\(s\) in loading state_dict for "
                            r"AtlasWAEGAN: size mismatch for "),
])
def test_a_damaged_checkpoint_is_named_with_what_to_do(halfway, tmp_path, monkeypatch,
                                                       damage, problem):
    config, path = copy_of(halfway, tmp_path)
    damage(path / "checkpoint.pt")
    no_training(monkeypatch)
    with pytest.raises(runs.RunFileError) as error:
        runs.load_or_train(config, path=path, device="cpu", progress=False)
    message = str(error.value)
    assert message.startswith(str(path / "checkpoint.pt"))
    assert "delete it (or the whole run folder) to retrain" in message
    assert re.search(problem, message), message


@pytest.mark.parametrize("text, problem", [
    ("", "is empty"),
    ('{"dataset": "mnist", "n_ch', "is not valid JSON"),
    ("[1, 2]", "holds a list, not a config"),
])
def test_a_damaged_config_json_is_named_with_what_to_do(halfway, tmp_path, text, problem):
    config, path = copy_of(halfway, tmp_path)
    (path / "config.json").write_text(text)
    with pytest.raises(runs.RunFileError, match=problem) as error:
        runs.load_or_train(config, path=path, device="cpu", progress=False)
    assert str(path / "config.json") in str(error.value)
    assert "delete it and run again" in str(error.value)


def test_load_run_names_a_config_json_with_foreign_fields(finished, tmp_path):
    _, path = copy_of(finished, tmp_path)
    (path / "config.json").write_text(json.dumps({"dataset": "mnist", "n_chart": 4}))
    with pytest.raises(runs.RunFileError, match=r"config.json is not a valid config "
                                                r"\(unknown config fields \['n_chart'\]"):
        runs.load_run(path)


def test_evaluate_writes_every_key_a_stored_metrics_file_is_checked_for(finished):
    _, path = finished
    stored = json.loads((path / "metrics.json").read_text())
    assert set(stored) == set(metrics.KEYS) | {"device"}


@pytest.mark.parametrize("edit, problem", [
    (lambda m: "", "is empty"),
    (lambda m: "{}", r"lacks 15 of the 15 keys evaluate writes \(\['model', 'n_charts', "
                     r"'latent_dim', '...'\]\)"),
    (lambda m: json.dumps({k: v for k, v in m.items() if k != "reconstruction_error"}),
     r"lacks 1 of the 15 keys evaluate writes \(\['reconstruction_error'\]\)"),
    (lambda m: json.dumps({**m, "n_charts": 8}), r"belongs to another model \({'n_charts': 8}"),
])
def test_a_damaged_metrics_json_is_named_and_computed_again(finished, tmp_path, monkeypatch,
                                                            edit, problem):
    config, path = copy_of(finished, tmp_path)
    good = json.loads((path / "metrics.json").read_text())
    (path / "metrics.json").write_text(edit(good))
    no_training(monkeypatch)
    with pytest.warns(RuntimeWarning, match=problem) as warned:
        run = runs.load_or_train(config, path=path, device="cpu", progress=False)
    assert str(path / "metrics.json") in str(warned[0].message)
    assert run.metrics == good  # recomputed from the kept model, not trusted
    assert json.loads((path / "metrics.json").read_text()) == good


# Two processes, one run ----------------------------------------------------------

WORKER = textwrap.dedent("""
    import json, sys
    from atlasnb import runs
    from atlasnb.config import TrainConfig
    config = TrainConfig.from_dict(json.loads(sys.argv[2]))
    run = runs.load_or_train(config, path=sys.argv[1], device="cpu", progress=False)
    print(json.dumps(run.metrics["reconstruction_error"]))
""")


def test_two_processes_asking_for_one_run_train_it_once(tmp_path):
    config, path = tiny_config(epochs=1), tmp_path / "run"
    path.mkdir()
    held = FileLock(path / "run.lock")
    held.acquire()  # both workers start while the folder is busy, then race for it
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    workers, errors = [], []
    for i in range(2):
        errors.append(open(tmp_path / f"stderr{i}", "w+"))
        workers.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), json.dumps(config.to_dict())],
            stdout=subprocess.PIPE, stderr=errors[-1], text=True, env=environment))
    deadline = time.monotonic() + 120
    while not all("waiting for it to finish" in (tmp_path / f"stderr{i}").read_text()
                  for i in range(2)):
        assert time.monotonic() < deadline, [(tmp_path / f"stderr{i}").read_text()
                                             for i in range(2)]
        time.sleep(0.2)
    held.release()
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], [
        (tmp_path / f"stderr{i}").read_text()[-2000:] for i in range(2)]
    assert log_epochs(path) == [1]  # trained once, by one of them
    assert outputs[0] == outputs[1]  # the other loaded the same model


# Read-only and full disks, shared folders ------------------------------------------

def _deny_writes_in(folder, monkeypatch):
    """Make ``folder`` read-only (for root, whom modes do not stop, refuse new files)."""
    folder.chmod(0o555)
    real = files.tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if Path(dir) == folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(folder))
        return real(*args, dir=dir, **kwargs)

    if os.geteuid() == 0:
        monkeypatch.setattr(files.tempfile, "mkstemp", mkstemp)


def test_a_read_only_run_folder_is_refused_before_training(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    folder.mkdir()
    _deny_writes_in(folder, monkeypatch)
    monkeypatch.setattr(runs, "load_images", lambda *a, **k: pytest.fail("data was loaded"))
    no_training(monkeypatch)
    try:
        with pytest.raises(files.RunFolderError) as error:
            runs.load_or_train(tiny_config(), path=folder, device="cpu", progress=False)
    finally:
        folder.chmod(0o755)
    assert str(error.value) == (
        f"the run folder {folder} cannot be written (Permission denied) while checking it "
        "before training; make it writable, or point ATLASNB_RUNS (or path=) at a folder "
        "you can write")


def test_a_finished_run_in_a_read_only_folder_is_loaded(finished, tmp_path, monkeypatch):
    config, path = copy_of(finished, tmp_path)
    expected = json.loads((path / "metrics.json").read_text())
    _deny_writes_in(path, monkeypatch)
    no_training(monkeypatch)
    try:
        run = runs.load_or_train(config, path=path, device="cpu", progress=False)
    finally:
        path.chmod(0o755)
    assert run.metrics == expected


def test_a_full_disk_is_named_and_the_last_checkpoint_kept(halfway, tmp_path, monkeypatch):
    config, path = copy_of(halfway, tmp_path)
    before = (path / "checkpoint.pt").read_bytes()

    def full(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", full)
        with pytest.raises(files.RunFolderError) as error:
            runs.load_or_train(config, path=path, device="cpu", progress=False)
    message = str(error.value)
    assert message.startswith(f"the disk mounted at {files._mount_point(path)} is full (")
    assert f"while writing checkpoint.pt in {path}; the last good checkpoint there is " \
           "kept: free some space and run again to resume from it" in message
    assert error.value.errno == errno.ENOSPC
    assert (path / "checkpoint.pt").read_bytes() == before
    assert [p.name for p in path.iterdir() if p.name.startswith(".")] == []
    runs.load_or_train(config, path=path, device="cpu", progress=False)
    assert log_epochs(path) == [1, 2]  # resumed from the kept epoch-1 checkpoint


def test_run_files_are_readable_by_the_group_under_a_private_umask(tmp_path):
    old = os.umask(0o077)
    try:
        path = tmp_path / "runs" / "run"
        runs.load_or_train(tiny_config(epochs=1), path=path, device="cpu", progress=False)
    finally:
        os.umask(old)
    for folder in (path.parent, path):
        assert folder.stat().st_mode & 0o750 == 0o750, oct(folder.stat().st_mode)
    for name in ("config.json", "checkpoint.pt", "metrics.json", "train.log"):
        assert (path / name).stat().st_mode & 0o640 == 0o640, name


# Spellings of devices and integers ------------------------------------------------

@pytest.mark.parametrize("device", ["cpu:0", "CPU", " cpu ", torch.device("cpu", 0)])
def test_spellings_of_the_cpu_are_the_cpu(finished, device):
    config, path = finished
    assert choose_device(device) == torch.device("cpu")
    run = runs.load_or_train(config, path=path, device=device, progress=False)
    assert next(run.model.parameters()).device == torch.device("cpu")


@pytest.mark.parametrize("device, message", [
    ("gpu", r"device='gpu' is not a torch device; use 'cpu', 'cuda' or 'cuda:N'"),
    ("mps", r"device='mps' is not supported; accepted: 'cpu', 'cuda', 'cuda:N', None"),
])
def test_a_device_that_is_not_one_is_named(device, message):
    with pytest.raises(ValueError, match=message):
        choose_device(device)


def test_numpy_integers_are_accepted_where_python_integers_are():
    plain = tiny_config(epochs=1, seed=3)
    numpy = tiny_config(epochs=np.int64(1), seed=np.int32(3), train_size=np.int64(200),
                        width=np.int16(2), lr_halving_epochs=(np.int64(1),),
                        batch_size=np.uint8(50))
    assert numpy == plain and numpy.key() == plain.key()
    assert type(numpy.epochs) is int and json.dumps(numpy.to_dict())
    a, _ = load_images("mnist", "test", limit=np.int64(5), seed=np.int64(2))
    b, _ = load_images("mnist", "test", limit=5, seed=2)
    assert torch.equal(a, b)
    seed_everything(np.int64(4))
    assert choose_device(np.int64(0) if torch.cuda.is_available() else "cpu")


# Relative paths in the environment ---------------------------------------------------

def test_relative_folder_variables_become_absolute_against_the_callers_folder(tmp_path,
                                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATLASNB_RUNS", "scratch/runs")
    monkeypatch.setenv("ATLASNB_DATA", "/already/absolute")
    assert paths.absolutise_environment() == {"ATLASNB_RUNS": str(tmp_path / "scratch/runs")}
    assert os.environ["ATLASNB_DATA"] == "/already/absolute"
    monkeypatch.setenv("ATLASNB_RUNS", "again")
    paths.setup(app=None)  # what a jupyter-book build does before executing chapters
    assert os.environ["ATLASNB_RUNS"] == str(tmp_path / "again")
    assert "atlasnb.paths" in (REPO / "_config.yml").read_text()


def test_a_chapter_kernel_sees_the_callers_relative_runs_folder(tmp_path, monkeypatch):
    pytest.importorskip("papermill")
    from atlasnb.book.chapters import run_chapter

    chapter = tmp_path / "book" / "probe.md"
    chapter.parent.mkdir()
    chapter.write_text(textwrap.dedent("""\
        ---
        jupytext:
          text_representation:
            extension: .md
            format_name: myst
        kernelspec:
          display_name: Python 3
          language: python
          name: python3
        ---

        ```{code-cell}
        import os
        from pathlib import Path
        from atlasnb import runs
        Path("seen.txt").write_text(str(runs.runs_root()))
        ```
        """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATLASNB_RUNS", "runs")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    run_chapter(chapter, tmp_path / "out.ipynb", progress=False)
    assert (chapter.parent / "seen.txt").read_text() == str(tmp_path / "runs")


# Data points a geodesic search must not take silently --------------------------------

@pytest.fixture(scope="module")
def circle():
    atlas = toy.CircleAtlas(ambient_dim=3, radius=1.0, n_charts=3)
    x = atlas.sample(120, seed=1)
    return atlas, x, geodesics.build_atlas_graph(atlas, x, k=6, progress=False)


def test_integer_data_points_are_refused_by_dtype(circle):
    atlas, x, _ = circle
    eight_bit = ((x + 1) * 127.5).round().to(torch.uint8)  # "images" of 0..255
    with pytest.raises(TypeError, match=r"^x has dtype torch.uint8, but data points must be "
                                        r"floating point on the model's scale \(images in "
                                        r"\[0, 1\]\); convert them first, e.g. x.float\(\) / "
                                        r"255 for 8-bit images$"):
        geodesics.build_atlas_graph(atlas, eight_bit, k=6, progress=False)


def test_non_finite_data_points_are_named_by_row(circle):
    atlas, x, _ = circle
    x = x.clone()
    x[5, 0], x[17, 2] = float("nan"), float("inf")
    with pytest.raises(ValueError, match=r"^x has NaN or infinite values in 2 of 120 rows "
                                         r"\(rows 5, 17\); remove or repair those rows$"):
        geodesics.build_atlas_graph(atlas, x, k=6, progress=False)


def test_non_finite_or_integer_end_points_are_refused(circle):
    atlas, x, graph = circle
    start = x[0].clone()
    start[1] = float("nan")
    with pytest.raises(ValueError, match=r"^start has NaN or infinite values; an end point "
                                         r"must be finite$"):
        geodesics.shortest_path(graph, start, x[1])
    with pytest.raises(TypeError, match=r"^end has dtype torch.int64"):
        geodesics.shortest_path(graph, x[0], x[1].round().long())


class OtherAGM:
    """An AGM whose charts or latent size differ from the circle's."""

    def __init__(self, n_charts, latent_dim):
        self.n_charts, self.latent_dim = n_charts, latent_dim

    def partition(self, x):
        return torch.full((len(x), self.n_charts), 1 / self.n_charts, dtype=x.dtype)

    def encode(self, x):
        return torch.zeros(len(x), self.n_charts, self.latent_dim, dtype=x.dtype)

    def decode(self, z, y):
        return torch.zeros(len(z), 3, dtype=z.dtype)


@pytest.mark.parametrize("n_charts, latent_dim", [(3, 2), (1, 1)])
def test_interpolate_refuses_a_model_the_path_does_not_belong_to(circle, n_charts,
                                                                 latent_dim):
    atlas, x, graph = circle
    path = geodesics.shortest_path(graph, x[0], x[60])
    assert int(path.charts.max()) >= 1  # the path uses a second chart
    with pytest.raises(ValueError, match=r"^the path does not belong to this model: it has "
                                         r"latent codes of size 1 in charts up to \d \(from "
                                         r"0\), the model has latent_dim = "
                                         rf"{latent_dim} and n_charts = {n_charts}; "):
        geodesics.interpolate(OtherAGM(n_charts, latent_dim), path, n_points=5)
    assert len(geodesics.interpolate(atlas, path, n_points=5).labels) == 5


def test_numpy_integers_are_accepted_by_the_geodesic_functions(circle):
    atlas, x, graph = circle
    again = geodesics.build_atlas_graph(atlas, x, k=np.int64(6), n_steps=np.int32(15),
                                        progress=False)
    assert again.n_nodes == graph.n_nodes
    path = geodesics.shortest_path(graph, np.int64(0), np.int64(5))
    assert len(geodesics.interpolate(graph, path, n_points=np.int64(4)).labels) == 4
