"""Whether a search's epochs leave its stop rule and its stages something to work with, checked
before the first step.

- The margin rule settles a decision after ``patience`` architecture epochs.  With no more
  architecture epochs than that, no decision can ever settle: a warning, and a refusal when the
  rule is what ends the search (it would silently run to the end instead).
- A progressive stage that starts but ends inside its own warm-up derives its new blocks from
  uniform alphas at margin 0 (the non-search refused for direct searches): refused, whether its own
  ``stage_epochs`` or the cap ``search.epochs`` cuts it off.
- A stage that starts when the cosine schedule has run out trains its new blocks at a learning
  rate of ~0: a warning (before the run where the earliest course shows it; at the stage's start).
"""

from __future__ import annotations

import math

from core.config import Config
from core.errors import PresnetError

#: a learning rate below this share of ``search.lr`` is "~0" for a stage's start
LOW_LR_SHARE = 0.02


def cosine_lr(lr: float, epoch: int, epochs: int) -> float:
    """The weights' learning rate during ``epoch`` (1-based) under CosineAnnealingLR(T_max=epochs)."""
    return lr * (1 + math.cos(math.pi * (epoch - 1) / epochs)) / 2


def arch_epochs(config: Config) -> int:
    """Epochs with architecture steps in a direct search (``stop_at_epoch`` included)."""
    s = config.search
    last = min(s.epochs, s.stop_at_epoch or s.epochs)
    return max(0, last - s.warmup_epochs)


def check_patience(config: Config) -> str | None:
    """A warning line when no decision can settle; raises when the margin rule is to stop the search."""
    s = config.search
    if s.progressive is not None:
        return None  # a stage's patience is judged by its own epochs (check_stages)
    n = arch_epochs(config)
    if s.patience < n:
        return None
    fact = (
        f"search.patience {s.patience} is not below the {n} architecture epochs "
        f"({s.epochs} epochs less {s.warmup_epochs} warm-up): no decision can settle"
    )
    fix = f"lower search.patience below {n} or raise search.epochs above {s.warmup_epochs + s.patience}"
    if s.rule == "margin":
        raise PresnetError(f"{fact}, so the margin rule can never stop the search", where="search.patience", hint=fix)
    return f"{fact} ({fix})"


def stage_starts(config: Config) -> list[tuple[int, int]]:
    """(earliest start epoch, warm-up epochs) of each progressive stage: every earlier stage ending
    as soon as it can (its warm-up plus ``patience`` epochs, or its budget if smaller)."""
    s = config.search
    out, start = [], 1
    for i in range(len(config.search.progressive or [])):
        warm = s.stage_warmup(i + 1)
        out.append((start, warm))
        budget = config.stage_budget(i + 1)
        start += min(budget if budget is not None else s.epochs, warm + s.patience)
    return out


def check_stages(config: Config) -> list[str]:
    """Refuses a stage that can start but never take an architecture step; warning lines for stages
    that start, at the earliest, with the learning rate at ~0."""
    s = config.search
    warnings = []
    for i, (start, warm) in enumerate(stage_starts(config), start=1):
        budget = config.stage_budget(i)
        if budget is not None and budget <= warm:
            raise PresnetError(
                f"stage {i}'s budget of {budget} epochs lies inside its {warm} warm-up epochs: "
                "its blocks would be derived from uniform alphas",
                where="search.stage_epochs",
                hint=f"give stage {i} more than {warm} epochs, or lower search.stage_warmup_epochs",
            )
        if start > s.epochs:
            break  # the cap ends the search in an earlier stage (a stop by design; later stages never start)
        if start + warm > s.epochs:
            raise PresnetError(
                f"search.epochs {s.epochs} ends stage {i} inside its warm-up: it starts at epoch {start} "
                f"at the earliest and warms up for {warm} epochs, so its blocks would get no architecture step",
                where="search.epochs",
                hint=f"raise search.epochs to {start + warm} or more, or lower search.stage_warmup_epochs",
            )
        lr = cosine_lr(s.lr, start, s.epochs)
        if i > 1 and lr < LOW_LR_SHARE * s.lr:
            warnings.append(low_lr_line(i, start, lr, s.lr, earliest=True))
    return warnings


def low_lr_line(stage: int, epoch: int, lr: float, base: float, earliest: bool = False) -> str:
    when = "at the earliest at" if earliest else "at"
    return (
        f"stage {stage} starts {when} epoch {epoch} with the weights' learning rate at {lr:.2g} "
        f"({lr / base:.1%} of search.lr): the cosine schedule over search.epochs has nearly run out, so its "
        "new blocks barely train (raise search.epochs, or give the earlier stages stage_epochs budgets)"
    )


def preflight_warnings(config: Config) -> list[tuple[str, str]]:
    """(message, where) of every budget warning; raises PresnetError for the refusals."""
    out = []
    patience = check_patience(config)
    if patience:
        out.append((patience, "search.patience"))
    if config.search.progressive is not None:
        out += [(w, "search.epochs") for w in check_stages(config)]
    return out
