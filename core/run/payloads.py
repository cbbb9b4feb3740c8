"""The typed parts an event carries: a derived architecture's confidence and where a progressive
search stands when it (re)starts.

They were plain dicts in the events, read by string keys in every front end; as models a renamed
field fails the type check instead of the TUI at run time.  On disk they are the same JSON objects
as before (same keys, same order), so old ``events.jsonl`` files load and new ones read the same.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.run.summary import DecisionRecord  # one shape for a decision: summary.json's and the event's


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")  # a newer writer's key survives an older reader


class ConfidenceRecord(_Payload):
    """How much the search decided (:meth:`core.train.convergence.Confidence.as_dict`, as JSON)."""

    searched: bool = True
    arch_steps: int = 0
    settled: int = 0
    decisions_total: int = 0
    decisions: list[DecisionRecord] = Field(default_factory=list)

    @property
    def all_settled(self) -> bool:
        return self.settled == self.decisions_total


class ProgressiveWhere(_Payload):
    """Where a progressive search (re)starts: its 1-based stage of ``stages``, the blocks searched
    so far, and the decisions frozen ({block: {decision: candidate}})."""

    stage: int
    stages: int
    blocks: list[int] = Field(default_factory=list)
    frozen: dict[str, dict[str, str]] = Field(default_factory=dict)
