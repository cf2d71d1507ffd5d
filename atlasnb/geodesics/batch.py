"""Many chart-labelled latent curves shortened together through the decoders.

Derived in {ref}`sec-graph-refinement`. Every curve is a polyline of latent points,
each with its chart; consecutive points of one chart are joined by the chord of
their decodings, and where the chart changes, by the jump between the two
charts' decodings. Both points beside a chart change are free but must keep
their decodings inside the overlap of the two charts. All curves move at once:
each iteration decodes the points of every curve still moving in one decoder
call per chart, and each curve has its own step sizes, history and stopping
rule, so a curve refined in a batch follows the steps it would follow alone.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from atlasnb.geodesics.curve import step_lengths


@contextlib.contextmanager
def _gradients_through(model):
    """Autograd on (outside any inference mode) with the model's own parameters
    frozen, so that only the curves are differentiated and no ``.grad`` is left."""
    parameters = list(model.parameters()) if callable(getattr(model, "parameters", None)) \
        else []
    frozen = [p for p in parameters if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        with torch.inference_mode(False), torch.enable_grad():
            yield
    finally:
        for p in frozen:
            p.requires_grad_(True)


class _Batch:
    """Curves (charts (P_c,), points (P_c, d)) laid end to end as rows of one table.

    The first and last point of each curve are fixed; every other point is free.
    A point beside a chart change is *constrained*: min(psi_i, psi_j) of its
    decoding, i and j the two charts, must stay above its floor.
    """

    def __init__(self, model, curves: list, eps: float, objective: str, device):
        self.model, self.objective, self.device = model, objective, device
        self.n_curves = len(curves)
        lengths = [len(charts) for charts, _ in curves]
        self.curve = torch.from_numpy(np.repeat(np.arange(len(curves)), lengths)).to(device)
        self.chart = torch.from_numpy(np.concatenate([c for c, _ in curves])).to(device)
        self.points = torch.cat([p.to(device) for _, p in curves]).detach().clone()
        ends = np.cumsum([0] + lengths)
        free = torch.ones(len(self.chart), dtype=torch.bool, device=device)
        free[torch.as_tensor(ends[:-1])] = False
        free[torch.as_tensor(ends[1:] - 1)] = False
        self.free = free
        # The fixed ends never move: decoded once, not at every evaluation.
        self.fixed = torch.nonzero(~free).flatten()
        with torch.no_grad():
            self.fixed_images = self.decode(self.points, self.fixed)
        self.fixed_slot = torch.full((len(free),), -1, dtype=torch.long, device=device)
        self.fixed_slot[self.fixed] = torch.arange(len(self.fixed), device=device)
        same = self.curve[1:] == self.curve[:-1]
        change = same & (self.chart[1:] != self.chart[:-1])
        before = torch.nonzero(change).flatten()
        # Constrained rows: both points beside a change, with the other chart.
        self.constrained = torch.cat([before, before + 1])
        self.other = torch.cat([self.chart[before + 1], self.chart[before]])
        self.constrained_curve = self.curve[self.constrained]
        self.free_constrained = self.free[self.constrained]
        self.floors = torch.clamp(self.margins(self.points) * (1 - 1e-9), max=eps)

    def rows_of(self, curves: torch.Tensor) -> torch.Tensor:
        """The row ids of the curves selected by the (C,) mask ``curves``."""
        return torch.nonzero(curves[self.curve]).flatten()

    def decode(self, points: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Decodings of ``points[rows]``: one decoder call per chart."""
        charts = self.chart[rows]
        order = torch.argsort(charts, stable=True)
        sorted_rows, sorted_charts = rows[order], charts[order]
        parts = []
        for y in torch.unique_consecutive(sorted_charts).tolist():
            chosen = sorted_rows[sorted_charts == y]
            parts.append(self.model.decode(points[chosen], int(y)))
        images = torch.cat(parts)
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(len(order), device=order.device)
        return images[inverse]

    def losses(self, points: torch.Tensor, curves: torch.Tensor):
        """(objective per curve (C,), NaN where not selected, and the decodings of
        the selected curves' rows, with their row ids)."""
        rows = self.rows_of(curves)
        free = self.free[rows]
        moving = torch.nonzero(free).flatten()
        images = self.fixed_images[self.fixed_slot[rows].clamp_min(0)]
        if len(moving):
            images = images.index_copy(0, moving, self.decode(points, rows[moving])
                                       .to(images.dtype))
        flat = images.flatten(1)
        ids = self.curve[rows]
        same = ids[1:] == ids[:-1]
        chords = (flat[1:] - flat[:-1]).norm(dim=1)[same]
        owner = ids[1:][same]
        zeros = torch.zeros(self.n_curves, dtype=chords.dtype, device=self.device)
        count = zeros.index_add(0, owner, torch.ones_like(chords))
        if self.objective == "energy":
            loss = zeros.index_add(0, owner, chords ** 2) * count
        else:
            loss = zeros.index_add(0, owner, chords)
        return torch.where(curves, loss, torch.full_like(loss, float("nan"))), images, rows

    def margins(self, points: torch.Tensor) -> torch.Tensor:
        """min(psi_i, psi_j) of every constrained row's decoding (no gradient)."""
        if len(self.constrained) == 0:
            return torch.zeros(0, device=self.device)
        with torch.no_grad():
            psi = self.model.partition(self.decode(points, self.constrained))
            own = psi.gather(1, self.chart[self.constrained][:, None])[:, 0]
            other = psi.gather(1, self.other[:, None])[:, 0]
        return torch.minimum(own, other)

    def evaluate(self, points: torch.Tensor, curves: torch.Tensor):
        """(losses, gradient (rows, d) on free rows) at ``points``."""
        leaf = points.detach().clone().requires_grad_(True)
        loss, _, _ = self.losses(leaf, curves)
        total = torch.nansum(loss)
        grad = torch.autograd.grad(total, leaf)[0] if total.requires_grad \
            else torch.zeros_like(leaf)
        grad = torch.where(self.free[:, None], grad, torch.zeros_like(grad))
        return loss.detach(), grad.detach()

    def project(self, trial: torch.Tensor, curves: torch.Tensor) -> torch.Tensor:
        """``trial`` with every constrained point of the selected curves that it takes
        out of its overlap put back where it is now."""
        if len(self.constrained) == 0:
            return trial
        chosen = curves[self.constrained_curve] & self.free_constrained
        rows = self.constrained[chosen]
        if len(rows) == 0:
            return trial
        with torch.no_grad():
            psi = self.model.partition(self.decode(trial, rows))
        own = psi.gather(1, self.chart[rows][:, None])[:, 0]
        other = psi.gather(1, self.other[chosen][:, None])[:, 0]
        out = torch.minimum(own, other) <= self.floors[chosen]
        trial = trial.clone()
        trial[rows[out]] = self.points[rows[out]]
        return trial

    def dot(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-curve inner products of two (rows, d) tables."""
        zeros = torch.zeros(self.n_curves, dtype=a.dtype, device=self.device)
        return zeros.index_add(0, self.curve, (a * b).sum(dim=1))

    def curves(self) -> list[tuple[np.ndarray, torch.Tensor]]:
        """Each curve's charts and points as they stand."""
        ids = self.curve.cpu().numpy()
        cuts = np.flatnonzero(np.diff(ids)) + 1
        charts = np.split(self.chart.cpu().numpy(), cuts)
        points = torch.tensor_split(self.points.detach().cpu(), cuts.tolist())
        return list(zip(charts, points))


def _lbfgs(batch: _Batch, n_iterations: int, tolerance: float, groups: torch.Tensor,
           prune: float, history: int = 10, max_trials: int = 10) -> np.ndarray:
    """L-BFGS for every curve at once, each with its own history, backtracking
    (Armijo) line search and stop. A trial step is projected: a constrained point
    it would take out of its overlap stays where it was. From the third iteration
    on, a curve whose length estimate (the root of its energy, or its chord sum)
    exceeds the best of its group (``groups``: the candidates of one path) by more
    than the fraction ``prune`` stops. Returns the iterations each curve ran."""
    c = batch.n_curves
    active = torch.ones(c, dtype=torch.bool, device=batch.device)
    loss, grad = batch.evaluate(batch.points, active)
    memory, iterations = [], np.zeros(c, dtype=int)
    for iteration in range(n_iterations):
        if iteration >= 2 and prune is not None:
            active &= ~_outrun(batch, loss, groups, prune)
        if not bool(active.any()):
            break
        direction = -_two_loop(batch, grad, memory)
        slope = batch.dot(grad, direction)
        active &= slope < 0
        first = torch.clamp(1 / batch.dot(grad.abs(), torch.ones_like(grad)), max=1.0)
        step = first if iteration == 0 else torch.ones(c, dtype=grad.dtype,
                                                       device=batch.device)
        waiting, accepted = active.clone(), torch.zeros_like(active)
        new_points, new_grad, new_loss = batch.points.clone(), grad.clone(), loss.clone()
        for _ in range(max_trials):
            if not bool(waiting.any()):
                break
            move = torch.where(waiting[batch.curve], step[batch.curve], 0)[:, None]
            trial = batch.project(batch.points + move * direction, waiting)
            trial_loss, trial_grad = batch.evaluate(trial, waiting)
            gain = batch.dot(grad, trial - batch.points)
            ok = waiting & torch.isfinite(trial_loss) & (trial_loss <= loss + 1e-4 * gain)
            rows = ok[batch.curve]
            new_points[rows] = trial[rows]
            new_grad[rows] = trial_grad[rows]
            new_loss[ok] = trial_loss[ok]
            accepted |= ok
            waiting &= ~ok
            step = torch.where(waiting, step / 2, step)
        iterations[active.cpu().numpy()] += 1
        active &= ~waiting  # no acceptable step: stop
        s, y = new_points - batch.points, new_grad - grad
        ys = batch.dot(y, s)
        memory.append((s, y, ys, accepted & (ys > 1e-10)))
        memory = memory[-history:]
        converged = accepted & (loss - new_loss <= tolerance * new_loss.abs())
        batch.points, grad, loss = new_points, new_grad, new_loss
        active &= ~converged
    return iterations


def _outrun(batch: _Batch, loss: torch.Tensor, groups: torch.Tensor,
            prune: float) -> torch.Tensor:
    """(C,) True for curves whose length estimate exceeds their group's best by more
    than the fraction ``prune``."""
    estimate = loss.sqrt() if batch.objective == "energy" else loss
    best = torch.full((int(groups.max()) + 1,), float("inf"), dtype=estimate.dtype,
                      device=batch.device)
    best = best.scatter_reduce(0, groups, estimate, reduce="amin")
    return estimate > (1 + prune) * best[groups]


def _two_loop(batch: _Batch, grad: torch.Tensor, memory: list) -> torch.Tensor:
    """Each curve's L-BFGS direction H g from its own (s, y) pairs."""
    q, alphas = grad.clone(), []
    for s, y, ys, valid in reversed(memory):
        rho = torch.where(valid, 1 / ys.clamp_min(1e-300), torch.zeros_like(ys))
        alpha = rho * batch.dot(s, q)
        q = q - alpha[batch.curve][:, None] * y
        alphas.append(alpha)
    gamma = torch.ones(batch.n_curves, dtype=grad.dtype, device=batch.device)
    for _s, y, ys, valid in reversed(memory):  # the newest valid pair scales H_0
        yy = batch.dot(y, y)
        take = valid & (gamma == 1) & (yy > 0)
        gamma = torch.where(take, ys / yy.clamp_min(1e-300), gamma)
    r = gamma[batch.curve][:, None] * q
    for (s, y, ys, valid), alpha in zip(memory, reversed(alphas)):
        rho = torch.where(valid, 1 / ys.clamp_min(1e-300), torch.zeros_like(ys))
        beta = rho * batch.dot(y, r)
        r = r + (alpha - beta)[batch.curve][:, None] * s
    return r


def _adam(batch: _Batch, n_iterations: int, lr: float, tolerance: float,
          betas=(0.9, 0.999), eps: float = 1e-8) -> np.ndarray:
    """Adam with step ``lr`` for every curve at once; a curve stops when its
    objective changed by less than ``tolerance`` relatively over ten steps, and a
    step that takes a change point out of its overlap is undone for that point."""
    c = batch.n_curves
    active = torch.ones(c, dtype=torch.bool, device=batch.device)
    first, second = torch.zeros_like(batch.points), torch.zeros_like(batch.points)
    history, iterations = [], np.zeros(c, dtype=int)
    for step in range(1, n_iterations + 1):
        loss, grad = batch.evaluate(batch.points, active)
        history.append(loss)
        if len(history) > 10:
            settled = (history[-11] - loss).abs() <= tolerance * loss
            active &= ~torch.nan_to_num(settled, nan=0.0).bool()
        if not bool(active.any()):
            break
        iterations[active.cpu().numpy()] += 1
        rows = active[batch.curve][:, None]
        first = torch.where(rows, betas[0] * first + (1 - betas[0]) * grad, first)
        second = torch.where(rows, betas[1] * second + (1 - betas[1]) * grad ** 2, second)
        update = lr * (first / (1 - betas[0] ** step)) / \
            ((second / (1 - betas[1] ** step)).sqrt() + eps)
        moved = torch.where(rows & batch.free[:, None], batch.points - update, batch.points)
        batch.points = batch.project(moved, active)
    return iterations


def optimise_curves(model, curves: list, eps: float, objective: str, optimiser: str,
                    n_iterations: int, lr: float, tolerance: float, device,
                    groups=None, prune: float | None = None) -> tuple:
    """Shorten every curve (charts, points) at once; returns the curves moved
    (charts, points) and the iterations each ran. L-BFGS stops curves outrun by
    more than ``prune`` within their group (``groups``: an id per curve)."""
    with _gradients_through(model):
        batch = _Batch(model, curves, eps, objective, device)
        if optimiser == "lbfgs":
            groups = torch.as_tensor(np.zeros(len(curves), int) if groups is None
                                     else np.asarray(groups), device=device)
            iterations = _lbfgs(batch, n_iterations, tolerance, groups, prune)
        else:
            iterations = _adam(batch, n_iterations, lr, tolerance)
    return batch.curves(), iterations


def measure_polylines(decoder, polylines: list, n_steps: int) -> list:
    """Eq. (10) terms of every segment of every chart-labelled polyline (charts,
    latents, images): ``n_steps`` per within-chart segment, a chart change one jump
    spread over them; the within-chart segments of all polylines are decoded
    together, one batch per chart."""
    steps = [[None] * (len(charts) - 1) for charts, _, _ in polylines]
    segments = {}
    for p, (charts, _, images) in enumerate(polylines):
        for a in range(len(charts) - 1):
            if charts[a] != charts[a + 1]:
                jump = float((images[a].double() - images[a + 1].double()).norm())
                steps[p][a] = np.full(n_steps, jump / n_steps)
            else:
                segments.setdefault(int(charts[a]), []).append((p, a))
    for chart, chosen in segments.items():
        z0 = torch.stack([polylines[p][1][a] for p, a in chosen])
        z1 = torch.stack([polylines[p][1][a + 1] for p, a in chosen])
        i0 = torch.stack([polylines[p][2][a] for p, a in chosen])
        i1 = torch.stack([polylines[p][2][a + 1] for p, a in chosen])
        terms = step_lengths(lambda z, chart=chart: decoder(z, chart), z0, z1, i0, i1, n_steps,
                              decoder.batch_size)
        for (p, a), row in zip(chosen, terms):
            steps[p][a] = row
    return steps
