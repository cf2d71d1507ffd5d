"""The package on a CUDA device: a run trains and evaluates there, and graph geodesics
and their refinement give the CPU's answers. Skipped where no CUDA device is present
(CI has none); run them on a GPU machine with ``pytest tests/test_cuda.py``."""

import numpy as np
import pytest
import torch

from atlasnb import geodesics, runs
from atlasnb.config import make_config
from atlasnb.data import load_images

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CONFIG = make_config("smoke", "mnist", n_charts=2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cuda")
    return {device: runs.load_or_train(CONFIG, path=root / device, device=device,
                                       progress=False) for device in ("cpu", "cuda")}


def test_a_run_trains_and_evaluates_on_cuda(trained):
    gpu, cpu = trained["cuda"], trained["cpu"]
    assert gpu.metrics["device"].startswith("cuda")
    assert next(gpu.model.parameters()).device.type == "cuda"
    # The same seed draws the same batches and prior samples on both devices (a CPU
    # generator); only the arithmetic differs, so the results stay close.
    assert gpu.metrics["reconstruction_error"] == pytest.approx(
        cpu.metrics["reconstruction_error"], rel=0.25)


def test_graph_geodesics_and_refinement_on_cuda_match_the_cpu(trained):
    x, _ = load_images("mnist", "test", limit=300)
    model = trained["cpu"].model
    answers = {}
    for device in ("cpu", "cuda"):
        model = model.to(device)
        graph = geodesics.build_atlas_graph(model, x, k=10, progress=False)
        path = geodesics.shortest_path(graph, x[0], x[1])
        answers[device] = (path, geodesics.refine(graph, path))
    (path_cpu, refined_cpu), (path_gpu, refined_gpu) = answers["cpu"], answers["cuda"]
    assert np.array_equal(path_cpu.data_indices, path_gpu.data_indices)
    # Same route; convolutions on a GPU may run in TF32, so lengths agree to about 1%.
    assert path_gpu.length == pytest.approx(path_cpu.length, rel=0.02)
    assert refined_gpu.length <= geodesics.measure_path(graph, path_gpu).length
    assert refined_gpu.length == pytest.approx(refined_cpu.length, rel=0.02)
    assert path_gpu.images.device.type == "cpu"  # results come back on the CPU
