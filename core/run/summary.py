"""``summary.json``: a run's result, one pydantic model written and read everywhere.

The job writes it section by section (the search's outcome, the architecture, the retrain's
result); compare, sweeps, steering and the front ends read it.  Every section allows keys it does
not name (``extra="allow"``), so a summary written by an older or newer presnet still opens, and a
section is written back as it was read (``exclude_unset``): the file keeps its shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import TypedDict

from core.errors import PresnetError
from core.faults import fault_point
from core.io import atomic_write
from core.run.tuning import Tuning


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow")


# The records inside a section are TypedDicts (pydantic validates them; typing_extensions' for Python
# 3.10): readers index them as the dicts they are in the file, and a misspelt key fails mypy.


class DecisionRecord(TypedDict):
    """One decision of a derived architecture with its confidence (core.train.convergence.Decision)."""

    block: int
    decision: str
    choice: str
    p: float
    margin: float
    settled: bool


class ConfidenceDict(TypedDict):
    """How much a search decided (core.train.convergence.Confidence): an architecture file's ``source``
    and the ``confidence`` of the architecture event carry it."""

    searched: bool
    arch_steps: int
    settled: int
    decisions_total: int
    decisions: list[DecisionRecord]


class StageRecord(TypedDict):
    """One ended stage of a progressive search (core.train.progressive)."""

    stage: int
    blocks: list[int]
    first_epoch: int
    last_epoch: int
    reason: str


class ProbeShare(TypedDict, total=False):
    """One probe's account (core.train.probes.ProbeSchedule.shares); older summaries lack some keys."""

    runs: int
    skipped: int
    seconds: float
    share: float
    budget: float
    exempt: bool


class MarginVerdict(TypedDict):
    converged: int | None  #: the margin rule's first converged epoch (None: it did not fire)


class CurvatureVerdict(TypedDict):
    """Where the curvature rule fired: the epoch that saw the rise, the rollback epoch, the ratio."""

    detected: int
    rollback: int
    ratio: float


class RulesRecord(TypedDict, total=False):
    """What every stop rule said of the epochs run (core.train.stop_rules.RuleVerdicts)."""

    margin: MarginVerdict
    curvature: CurvatureVerdict | None


class PerturbationAccount(TypedDict, total=False):
    """The perturbation readout's account (core.train.probe_set.SearchProbes.summary)."""

    agreement: list[list[int]]  #: [epoch, agreeing, decisions] per measured epoch
    epoch: int | None  #: the readout the architecture's epoch goes by (the latest at or before it)
    choices: dict[str, dict[str, str]]
    disagreements: list[list[str]]  #: [block, decision, argmax, choice]


class StopRecord(_Section):
    """How the search ended (core.train.job.stop_record): the rule, and the epoch the architecture is from."""

    rule: str | None = None
    fired: bool = False
    fired_at: int | None = None
    architecture_epoch: int | None = None


class SearchSummary(_Section):
    """The search's outcome; the confidence keys are :meth:`core.train.convergence.Confidence.as_dict`'s."""

    epochs: int | None = None  #: every key may be missing: hand-written and older summaries still open
    stop_reason: str | None = None
    elapsed_s: float | None = None
    scope: str | list[int] | None = None
    block_ids: list[int] = Field(default_factory=list)
    stages: list[StageRecord] | None = None  #: a progressive search's stage history
    rank_state_sha256: list[str] | None = None  #: distributed runs: each rank's final state digest
    searched: bool | None = None
    arch_steps: int | None = None
    settled: int | None = None
    decisions_total: int | None = None
    decisions: list[DecisionRecord] = Field(default_factory=list)
    stop_rule: StopRecord | None = None  #: which rule was in force, whether and when it fired
    rules: RulesRecord = Field(default_factory=lambda: RulesRecord())  #: what every stop rule said of the epochs run
    curvature: list[tuple[int, float]] = Field(default_factory=list)  #: (epoch, largest Hessian eigenvalue)
    select: str | None = None  #: which selection made the architecture: alpha or perturbation (None: older)
    #: the perturbation readout: agreement per measured epoch, choices and disagreements at the architecture
    perturbation: PerturbationAccount | None = None
    probes: dict[str, ProbeShare] = Field(default_factory=dict)  #: each probe's runs and share of the search's time
    entropy: dict[str, dict[str, float]] = Field(default_factory=dict)  #: each decision's entropy at the end
    tuning: Tuning | None = None  #: what ``auto`` chose for the search's speed settings, and why

    def curvature_at(self, epoch: int | None) -> float | None:
        """The recorded curvature at ``epoch`` (None: not measured there)."""
        return next((v for e, v in self.curvature if e == epoch), None)


class RetrainSummary(_Section):
    epochs: int | None = None
    test_top1: float | None = None  #: measured once, on the final weights
    val_top1: float | None = None  #: the last epoch's validation top-1
    stopped: bool = False
    #: a past epoch's architecture retrained (``retrain_arch``): its file and its size
    arch_file: str | None = None
    params: int | None = None
    rank_state_sha256: list[str] | None = None
    tuning: Tuning | None = None  #: what ``auto`` chose for the retrain's speed settings, and why


class RunSummary(_Section):
    baseline: bool = False  #: a `presnet baseline` run (the plain network, no search)
    search: SearchSummary | None = None
    architecture: dict[str, Any] | None = None  #: the architecture file's content (Architecture, as JSON)
    params: int | None = None
    world_size: int | None = None
    retrain: RetrainSummary | None = None
    #: the file the retrain trains when it is not the search's arch.json (the TUI's retrain of a past
    #: epoch's architecture, e.g. ``arch-epoch5.json``): the search's own result stays as it was
    retrain_arch: str | None = None

    @property
    def empty(self) -> bool:
        """No section written yet (the run has not finished its search nor its retrain)."""
        return not self.model_fields_set and not self.model_extra

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_unset=True), indent=2) + "\n"


def read_summary(path: Path) -> RunSummary:
    """The summary at ``path``; an empty one when there is none yet; a broken one is one line."""
    if not path.exists():
        return RunSummary()
    try:
        return RunSummary.model_validate_json(path.read_text())
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise PresnetError(f"summary.json is malformed: {where}: {first['msg']}", where=str(path)) from None


def write_summary(path: Path, summary: RunSummary, sections: str = "") -> None:
    """Temp file, then rename: a failed write (a full disk) leaves the previous summary whole."""
    text = summary.to_json()

    def write(f: Any) -> None:
        half = len(text) // 2
        f.write(text[:half])
        fault_point("summary", sections)  # test-only: a kill or a write error in mid-write (core.faults)
        f.write(text[half:])

    atomic_write(path, write, binary=False)


def updated(summary: RunSummary, **sections: Any) -> RunSummary:
    """``summary`` with whole sections replaced (``search=...``, ``retrain=...``), validated."""
    data = summary.model_dump(mode="json", exclude_unset=True)
    data.update(
        {
            k: v.model_dump(mode="json", exclude_unset=True) if isinstance(v, BaseModel) else v
            for k, v in sections.items()
        }
    )
    return RunSummary.model_validate(data)
