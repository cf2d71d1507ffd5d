"""The training loop of the WAE-GAN and the Atlas WAE-GAN.

Derived in {ref}`sec-wae-gan`: Adam with betas (0.5, 0.999), one critic step and
one auto-encoder step per mini-batch (with the config's ``latent_penalty`` and
``reconstruction_cost``), learning rates halved at the epochs of
Appendix A. State lives in :class:`Trainer` so that :mod:`atlasnb.runs` can
checkpoint it after every epoch and resume to the same weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from tqdm import tqdm  # text bars: they render on a page; tqdm.auto warns without ipywidgets

from atlasnb import models, objective
from atlasnb.config import TrainConfig


def epoch_generator(config: TrainConfig, epoch: int) -> torch.Generator:
    """The random stream of one epoch (shuffling and prior samples).

    Derived from the run's seed and the epoch number alone, so a resumed run draws
    exactly what an uninterrupted one would.
    """
    return torch.Generator().manual_seed(config.seed * 100_003 + epoch)


class Trainer:
    """Model, critic, optimisers and learning-rate schedules of one run."""

    def __init__(self, config: TrainConfig, device: torch.device):
        self.config = config
        self.device = device
        torch.manual_seed(config.seed)
        self.model = models.build_model(config).to(device)
        self.critic = models.build_critic(config).to(device)
        betas = config.adam_betas
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, betas=betas)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(),
                                                 lr=config.lr_critic, betas=betas)
        milestones = list(config.lr_halving_epochs)
        self.schedulers = [
            torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones, gamma=0.5),
            torch.optim.lr_scheduler.MultiStepLR(self.critic_optimizer, milestones, gamma=0.5),
        ]
        self.epoch = 0  # epochs completed

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "critic": self.critic.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "schedulers": [s.state_dict() for s in self.schedulers],
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.critic.load_state_dict(state["critic"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        for scheduler, saved in zip(self.schedulers, state["schedulers"]):
            scheduler.load_state_dict(saved)
        self.epoch = int(state["epoch"])

    def train_epoch(self, images: torch.Tensor, progress: bool = True) -> dict:
        """One pass over ``images``; returns the epoch's mean losses."""
        config = self.config
        generator = epoch_generator(config, self.epoch)
        order = torch.randperm(len(images), generator=generator)
        n_batches = math.ceil(len(images) / config.batch_size)
        self.model.train()
        self.critic.train()
        totals: dict[str, float] = {}
        bar = tqdm(range(n_batches), desc=f"{config.model_name} epoch {self.epoch + 1}/"
                   f"{config.epochs}", disable=not progress, leave=False)
        for step in bar:
            index = order[step * config.batch_size:(step + 1) * config.batch_size]
            x = images[index].to(self.device)
            critic_loss, critic_parts = objective.critic_loss(
                self.model, self.critic, x, generator=generator,
                latent_penalty=config.latent_penalty)
            _check_finite("critic loss", critic_loss, self.epoch + 1, step + 1)
            self.critic_optimizer.zero_grad(set_to_none=True)
            critic_loss.backward()
            self.critic_optimizer.step()

            loss, parts = objective.autoencoder_loss(
                self.model, self.critic, x, lam=config.lam, generator=generator,
                latent_penalty=config.latent_penalty, cost=config.reconstruction_cost)
            _check_finite("auto-encoder loss", loss, self.epoch + 1, step + 1)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()

            for name, value in {**parts, **critic_parts}.items():
                totals[name] = totals.get(name, 0.0) + float(value)
            bar.set_postfix(loss=f"{parts['loss']:.3f}", critic=f"{critic_parts['critic']:.3f}")
        for scheduler in self.schedulers:
            scheduler.step()
        self.epoch += 1
        return {name: value / n_batches for name, value in totals.items()}


def _check_finite(name: str, loss: torch.Tensor, epoch: int, step: int) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"{name} became {loss.item()} at epoch {epoch}, step {step}; lower the "
            "learning rate (lr, lr_critic) or check the data")


def train(trainer: Trainer, images: torch.Tensor, progress: bool = True,
          on_epoch_end: Callable[[Trainer, dict], None] | None = None) -> Trainer:
    """Train from ``trainer.epoch`` to ``config.epochs``, calling ``on_epoch_end``
    (for checkpoints and logs) after every epoch."""
    while trainer.epoch < trainer.config.epochs:
        started = time.perf_counter()
        losses = trainer.train_epoch(images, progress=progress)
        losses["seconds"] = time.perf_counter() - started
        if on_epoch_end is not None:
            on_epoch_end(trainer, losses)
    return trainer
