"""Training and decoding throughput of the WAE-GAN and the Atlas WAE-GANs on CPU.

Run with ``python tests/benchmarks/bench_models.py`` (not a pytest test). One
training step is an autoencoder step plus a critic step on a batch of 100
random images (Adam, Appendix A's learning rates), with 2 threads.
"""

from __future__ import annotations

import argparse
import time

import torch

from atlasnb.config import make_config
from atlasnb.models import WAEGAN, AtlasWAEGAN, LatentCritic
from atlasnb.objective import autoencoder_loss, critic_loss

BATCH = 100
CHARTS = (1, 2, 4, 8, 16)


def make(m: int, h: int):
    model = WAEGAN(h=h) if m == 1 else AtlasWAEGAN(m, h=h)
    return model, LatentCritic(m, model.latent_dim, h)


def training_step_seconds(m: int, h: int, warmup: int, steps: int) -> tuple[float, float]:
    """Mean wall time and process CPU time of one autoencoder step + critic step.

    CPU time divided by the thread count is the wall time the step would take on
    an otherwise idle machine; it is the robust number when the machine is shared.
    """
    torch.manual_seed(0)
    model, critic = make(m, h)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_critic = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.999))
    x = torch.rand(BATCH, 1, 28, 28)

    def step():
        opt.zero_grad(set_to_none=True)
        autoencoder_loss(model, critic, x)[0].backward()
        opt.step()
        opt_critic.zero_grad(set_to_none=True)
        critic_loss(model, critic, x)[0].backward()
        opt_critic.step()

    for _ in range(warmup):
        step()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return ((time.perf_counter() - start) / steps,
            (time.process_time() - cpu_start) / steps / torch.get_num_threads())


def decode_points_per_second(m: int, h: int, batch: int = 2048, repeats: int = 3) -> float:
    """Decoding throughput of ``decode(z, y)`` with a random chart per row."""
    torch.manual_seed(0)
    model = make(m, h)[0].eval()
    z, y = torch.randn(batch, model.latent_dim), torch.randint(m, (batch,))
    with torch.inference_mode():
        model.decode(z, y)
        start = time.perf_counter()
        for _ in range(repeats):
            model.decode(z, y)
    return batch * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}")
    times = {}
    # Each scale's widths as its runs use them (config.model_width): Table 1's at the
    # paper scale, equal parameter budgets at the quick scale.
    for label, scale, (warmup, steps) in (("Table 1", "paper", (1, 3)),
                                          ("quick", "quick", (2, 5))):
        print(f"\n{label} widths (make_config({scale!r}, ...).model_width):")
        for m in CHARTS:
            h = make_config(scale, "mnist", n_charts=m).model_width
            seconds, cpu = training_step_seconds(m, h, warmup, steps)
            times[label, m] = seconds, cpu
            name = "WAE-GAN" if m == 1 else f"AWAE-GAN m={m}"
            print(f"  {name:<16} h={h:<4} {seconds:7.3f} s/step  {BATCH / seconds:8.1f} images/s"
                  f"   (CPU time / threads: {cpu:7.3f} s/step)")
    wall, cpu = (times["Table 1", 16][k] / times["Table 1", 1][k] for k in (0, 1))
    print(f"\nstep time AWAE-GAN(m=16) / WAE-GAN at Table 1 widths: {wall:.2f} wall, "
          f"{cpu:.2f} CPU time (goal <= 1.5)")
    h = make_config("quick", "mnist", n_charts=8).model_width
    rate = decode_points_per_second(8, h)
    print(f"decode(z, y), AWAE-GAN m=8 h={h}, batch 2048, random charts: {rate:,.0f} points/s")


if __name__ == "__main__":
    main()
