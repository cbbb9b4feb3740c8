"""The search strategy: how a one-shot search trains its architecture parameters.

NNI's one-shot strategies (DARTS, ProxylessNAS, ENAS, random sampling) are sibling classes over one
trainer; so here.  The loop skeleton (:class:`core.train.loop.Loop`) and the search's epoch logic
(:class:`core.train.search_loop.SearchEngine`) drive a :class:`SearchStrategy`, which owns what differs
between one-shot methods: how a weight step's paths are drawn, what an architecture step does, the
alphas' optimiser, and the state of all three in the checkpoint (:class:`StrategySection`).

Today's strategies are ProxylessNAS's two binary-gate estimators (``search.estimator``): two-path, the
paper's, and all-paths, ProxylessNAS's "full" estimator.  A new strategy is a sibling class and one
entry in :data:`STRATEGIES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch

from core.config import Config
from core.space.cost import CostTerm, build_cost_term
from core.space.network import SearchNet
from core.space.proxyless import Mode, PathSampler
from core.train.checkpoints import StrategySection
from core.train.collectives import Collectives
from core.train.device import Precision
from core.train.seeds import stream
from core.train.step import arch_step, grad_scaler


class SearchStrategy(ABC):
    """One way to search: the sampled paths of a weight step, the architecture step, their state."""

    #: the ``search.estimator`` value that selects it
    name: ClassVar[str]

    def __init__(self, net: SearchNet, config: Config, prec: Precision, coll: Collectives) -> None:
        self.sampler = PathSampler(stream(config.run.seed, "path_sampler"))
        self.arch_steps = 0
        #: the search's cost term (``search.cost``), when it searches under a budget
        self.cost: CostTerm | None = None

    def sample_weight_paths(self, net: SearchNet, warmup: bool) -> None:
        """A weight step's one path per decision: drawn from softmax(alpha), uniformly in the warm-up."""
        net.sample_weight_paths(self.sampler, uniform=warmup)

    @abstractmethod
    def arch_step(self, net: SearchNet, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One architecture step on a validation batch; returns (loss, logits) for the meters."""

    @abstractmethod
    def alpha_optimizer(self) -> torch.optim.Optimizer:
        """The alphas' optimiser (a progressive search hands it the network's new alphas)."""

    @abstractmethod
    def state_dict(self) -> StrategySection: ...

    @abstractmethod
    def load_state_dict(self, state: StrategySection) -> None: ...


class ProxylessStrategy(SearchStrategy):
    """ProxylessNAS: Adam on the alphas through binary gates over the sampled paths (``mode``), with an
    optional cost term; distributed, the gate gradients (and the loss a ``mul_log`` cost multiplies)
    are averaged across ranks so that every rank's alphas stay identical."""

    mode: ClassVar[Mode]

    def __init__(self, net: SearchNet, config: Config, prec: Precision, coll: Collectives) -> None:
        super().__init__(net, config, prec, coll)
        s = config.search
        self.a_opt = torch.optim.Adam(
            net.arch_parameters(), lr=s.arch_lr, betas=s.arch_betas, weight_decay=s.arch_weight_decay
        )
        self.arch_scaler = grad_scaler(prec)
        self.prec = prec
        self.cost = build_cost_term(s.cost, net, config.data.image_size) if s.cost is not None else None
        self._reduce_gates = coll.gate_hook()
        self._reduce_loss = coll.loss_reducer() if self.cost is not None else None

    def arch_step(self, net: SearchNet, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loss, logits = arch_step(
            net,
            self.sampler,
            self.mode,
            self.a_opt,
            self.arch_scaler,
            self.prec,
            x,
            y,
            cost=self.cost,
            reduce_gates=self._reduce_gates,
            reduce_loss=self._reduce_loss,
        )
        self.arch_steps += 1
        return loss, logits

    def alpha_optimizer(self) -> torch.optim.Optimizer:
        return self.a_opt

    def state_dict(self) -> StrategySection:
        return StrategySection(
            a_opt=self.a_opt.state_dict(),
            sampler=self.sampler.state(),
            arch_steps=self.arch_steps,
            arch_scaler=self.arch_scaler.state_dict(),
        )

    def load_state_dict(self, state: StrategySection) -> None:
        self.a_opt.load_state_dict(state.a_opt)
        if state.arch_scaler is not None:  # older checkpoints lack it: a fresh scaler recalibrates in a few steps
            self.arch_scaler.load_state_dict(state.arch_scaler)
        self.sampler.load_state(state.sampler)
        self.arch_steps = int(state.arch_steps)


class ProxylessTwoPath(ProxylessStrategy):
    """The paper's estimator: the gate gradients of two sampled paths mapped to their alphas."""

    name = "two_path"
    mode = Mode.TWO_PATH


class ProxylessAllPaths(ProxylessStrategy):
    """ProxylessNAS's "full" estimator: every candidate runs for the gate gradients, one path active."""

    name = "all_paths"
    mode = Mode.ALL_PATHS


#: ``search.estimator`` -> its strategy
STRATEGIES: dict[str, type[SearchStrategy]] = {s.name: s for s in (ProxylessTwoPath, ProxylessAllPaths)}


def strategy_for(net: SearchNet, config: Config, prec: Precision, coll: Collectives) -> SearchStrategy:
    """The strategy ``search.estimator`` names, built on ``net`` (after the weights' optimiser: no
    random draw happens in between, so the run's random streams are those of every earlier version)."""
    return STRATEGIES[config.search.estimator](net, config, prec, coll)
