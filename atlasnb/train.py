"""The training loop of every model family: the WAE-GAN, the Atlas WAE-GAN and the
families of :mod:`atlasnb.families`.

Derived in {ref}`sec-wae-gan`: Adam with betas (0.5, 0.999), one critic step and
one auto-encoder step per mini-batch (with the config's ``latent_penalty`` and
``reconstruction_cost``), learning rates halved at the epochs of
Appendix A. The other families ({ref}`sec-agm-class`) go through the same loop with
their own objective, chosen in one place (:meth:`Trainer.step`): the Atlas VAE and
the Chart Auto-Encoder have no critic and take one step per mini-batch; the InfoGAN
takes an image-critic step, then a generator step. State lives in :class:`Trainer` so
that :mod:`atlasnb.runs` can
checkpoint it after every epoch and resume to the same weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from tqdm import tqdm  # text bars: they render on a page; tqdm.auto warns without ipywidgets

from atlasnb import families, objective
from atlasnb.config import TrainConfig
from atlasnb.families import atlas_vae, cae, infogan


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
        self.model = families.build_model(config).to(device)
        critic = families.build_critic(config)  # None for families without one
        self.critic = critic.to(device) if critic is not None else None
        betas = config.adam_betas
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, betas=betas)
        self.critic_optimizer = (torch.optim.Adam(self.critic.parameters(),
                                                  lr=config.lr_critic, betas=betas)
                                 if self.critic is not None else None)
        milestones = list(config.lr_halving_epochs)
        self.schedulers = [
            torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=0.5)
            for optimizer in (self.optimizer, self.critic_optimizer) if optimizer is not None]
        self.epoch = 0  # epochs completed

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "critic": self.critic.state_dict() if self.critic is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "critic_optimizer": (self.critic_optimizer.state_dict()
                                 if self.critic_optimizer is not None else None),
            "schedulers": [s.state_dict() for s in self.schedulers],
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if (self.critic is None) != (state["critic"] is None):
            raise ValueError("the checkpoint's critic does not match the model family's")
        if self.critic is not None:
            self.critic.load_state_dict(state["critic"])
            self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.optimizer.load_state_dict(state["optimizer"])
        if len(state["schedulers"]) != len(self.schedulers):
            raise ValueError("the checkpoint's schedules do not match the model family's")
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
        if self.critic is not None:
            self.critic.train()
        totals: dict[str, float] = {}
        bar = tqdm(range(n_batches), desc=f"{config.model_name} epoch {self.epoch + 1}/"
                   f"{config.epochs}", disable=not progress, leave=False)
        for step in bar:
            index = order[step * config.batch_size:(step + 1) * config.batch_size]
            x = images[index].to(self.device)
            parts, critic_parts = self.step(x, generator, step + 1)
            for name, value in {**parts, **critic_parts}.items():
                totals[name] = totals.get(name, 0.0) + float(value)
            bar.set_postfix(loss=f"{parts['loss']:.3f}",
                            **({"critic": f"{critic_parts['critic']:.3f}"} if critic_parts
                               else {}))
        for scheduler in self.schedulers:
            scheduler.step()
        self.epoch += 1
        return {name: value / n_batches for name, value in totals.items()}

    def step(self, x: torch.Tensor, generator: torch.Generator, step: int):
        """One mini-batch of the config's family: (model parts, critic parts).

        The one place where the objective is chosen: the Atlas WAE-GAN's eq. (6) with a
        latent-critic step first, the Atlas VAE's bound (eq. (1)), the Chart
        Auto-Encoder's eq. (7), or the InfoGAN's image-critic step then its generator
        step (eqs. (3) to (5)). ``step`` (from 1) only names a non-finite loss."""
        config, epoch = self.config, self.epoch + 1
        critic_parts: dict = {}
        if config.model in ("atlas-wae-gan", "infogan"):
            if config.model == "infogan":
                critic_loss, critic_parts = infogan.critic_loss(self.model, self.critic, x,
                                                                generator=generator)
            else:
                critic_loss, critic_parts = objective.critic_loss(
                    self.model, self.critic, x, generator=generator,
                    latent_penalty=config.latent_penalty)
            _check_finite("critic loss", critic_loss, epoch, step)
            self.critic_optimizer.zero_grad(set_to_none=True)
            critic_loss.backward()
            self.critic_optimizer.step()
        if config.model == "atlas-wae-gan":
            loss, parts = objective.autoencoder_loss(
                self.model, self.critic, x, lam=config.lam, generator=generator,
                latent_penalty=config.latent_penalty, cost=config.reconstruction_cost)
        elif config.model == "infogan":
            loss, parts = infogan.generator_loss(self.model, self.critic, x, lam=config.lam,
                                                 generator=generator)
        elif config.model == "atlas-vae":
            loss, parts = atlas_vae.vae_loss(self.model, x, generator=generator,
                                             likelihood=config.likelihood)
        else:
            loss, parts = cae.cae_loss(self.model, x)
        _check_finite("model loss" if config.model != "atlas-wae-gan"
                      else "auto-encoder loss", loss, epoch, step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return parts, critic_parts


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
