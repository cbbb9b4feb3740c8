"""One run directory's work -- search, derive, retrain -- and how to resume it.

A :class:`Job` is what a runner thread executes.  It owns the run's event file:
on resume it first cuts ``events.jsonl`` back to the length the checkpoint
recorded, so the history holds every epoch exactly once.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.config import Config, check_void_kernels
from core.errors import PresnetError
from core.faults import fault_point
from core.run.checkpoint import CheckpointHeader, load_checkpoint
from core.run.control import Control
from core.run.events import (
    ArchitectureDerived,
    Error,
    EventBus,
    JsonlSink,
    SearchStopped,
    SpaceWarning,
    StopReason,
    Suspended,
    repair_events,
)
from core.run.progress import ProgressFile
from core.run.rundir import RunDir
from core.run.tuning import Tuning
from core.space.arch import Architecture, load_arch, save_arch
from core.space.network import count_params, net_spec
from core.train.budget import preflight_warnings
from core.train.collectives import Collectives, LoopControl, collectives
from core.train.convergence import confidence, with_confidence
from core.train.curvature import entropies
from core.train.data import SearchData, check_image_folder, load_search_data
from core.train.device import precision_for, resolve_device
from core.train.dist_ops import RankDrift, check_sync_bn
from core.train.loop import Diverged, Interrupted, LoopContext
from core.train.pipeline import use_stream
from core.train.preflight import check_precision, check_splits, check_writable, splits_of, stream_splits
from core.train.retrain_loop import RetrainEngine, RetrainOutcome, retrain_fingerprint
from core.train.search_loop import SearchEngine, SearchOutcome, search_fingerprint


@dataclass
class JobResult:
    status: Literal["done", "interrupted", "error"]
    run_dir: str
    search: SearchOutcome | None = None
    retrain: RetrainOutcome | None = None
    message: str | None = None


class Job:
    """Search and/or retrain in a run directory, emitting events on ``bus``."""

    def __init__(
        self,
        config: Config,
        run: RunDir,
        bus: EventBus,
        control: Control,
        *,
        search: bool = True,
        retrain: bool = True,
        arch: Architecture | None = None,
        resume: bool = False,
    ) -> None:
        self.config = config
        self.run_dir = run
        self.bus = bus
        self.control = control
        self.do_search = search
        self.do_retrain = retrain
        self.arch = arch
        self.resume = resume
        self._data: SearchData | None = None
        self._payloads: dict[str, dict[str, Any]] = {}
        self._prepared = False
        self.warning: str | None = None  # a void kernel choice (space.void_kernels: warn)
        self.budget_warnings: list[tuple[str, str]] = []  # (message, where): core.train.budget

    def prepare(self) -> Job:
        """Take the run directory's lock, then check the device, decode the data, size the
        splits and vet the checkpoints now, so that input errors surface before any thread
        starts -- and before anything in the run directory changes.  A run directory made
        for this job and not used yet is removed again on such an error, so the same
        ``--out`` works once the input is fixed.  The lock is held until :meth:`run` ends."""
        if self.coll.is_main:  # one writer: rank 0 of a distributed run
            self.run_dir.take_lock(self)  # a live run's directory is refused here, untouched
        try:
            return self._prepare()
        except BaseException:
            if not self.resume and self.coll.is_main:
                self.run_dir.discard_if_unused()
            self.run_dir.release_lock(refused=self.resume)  # a refused resume leaves run.lock as it was
            raise

    def _prepare(self) -> Job:
        if self.do_search:  # space.void_kernels: error refuses here, before any data is read
            self.warning = check_void_kernels(self.config)
            self.budget_warnings = preflight_warnings(self.config)  # and a stop rule or stage that cannot work
        check_writable(self.run_dir.path)
        check_precision(precision_for(self.config.run, resolve_device(self.config.run.device)))
        if self.config.run.tensorboard:
            from core.run.tensorboard import require_tensorboard

            require_tensorboard()
        num_classes = self.num_classes()
        data, seed = self.data(), self.config.run.seed
        splits = splits_of(data) if data is not None else stream_splits(self.config.data, seed)
        check_splits(
            splits,
            self.config.data,
            seed,
            search=self.do_search and not self._search_finished(),
            world_size=self.coll.world_size,
            retrain_val_fraction=self.config.retrain.val_fraction,
        )
        if self.config.network.sync_bn:  # refused on the CPU before anything runs
            check_sync_bn(self.coll.info, resolve_device(self.config.run.device))
        if self.arch is not None and self.arch.num_classes != num_classes:
            raise PresnetError(
                f"the architecture has {self.arch.num_classes} classes, the dataset {num_classes}",
                where="num_classes",
                hint="set num_classes in the architecture file to match the data",
            )
        if self.resume:
            self._payloads = self._resume_payloads(num_classes)
        self._prepared = True
        return self

    def num_classes(self) -> int:
        data = self.data()
        if data is not None:
            return data.num_classes
        train_dir, _ = check_image_folder(self.config.data.data_dir)
        return sum(1 for d in train_dir.iterdir() if d.is_dir())

    def _search_finished(self) -> bool:
        """(Resume) whether the search is over and only the retrain is left: the validation
        split no longer matters then.  Read without loading the checkpoint's tensors."""
        return self.resume and (self.run_dir.retrain_ckpt.exists() or self.run_dir.summary().search is not None)

    def data(self) -> SearchData | None:
        """Decoded once and shared by the search and the retrain."""
        if self._data is None and not use_stream(self.config.data):
            self._data = load_search_data(self.config.data, self.config.run.seed)
        return self._data

    def run(self) -> JobResult:
        """Do the work; the run directory's lock is let go at the end, whatever happened."""
        try:
            return self._run()
        finally:
            self.run_dir.release_lock()

    def _run(self) -> JobResult:
        run = self.run_dir
        try:
            if not self._prepared:
                self.prepare()
        except PresnetError as err:
            self.bus.emit(Error(message=err.line(), where=err.where))
            return JobResult("error", str(run.path), message=err.line())
        result = JobResult("done", str(run.path))
        with self._event_files() as offset:
            try:
                self._work(result, offset)
            except Interrupted as err:
                result.status, result.message = "interrupted", str(err)
                self._suspended(err)
            except PresnetError as err:
                result.status, result.message = "error", err.line()
                if isinstance(err, (Diverged, RankDrift)) and err.where == "search":
                    self.bus.emit(SearchStopped(epoch=self._epochs_done(), reason=StopReason.ERROR))
                self._emit_closing(Error(message=err.line(), where=err.where))
            except Exception as err:  # a bug: keep the traceback for the report, tell the user where it is
                result.status = "error"
                result.message = f"{err.__class__.__name__}: {err} (traceback in {self._keep_traceback()})"
                self.bus.emit(Error(message=result.message))
        return result

    def _work(self, result: JobResult, offset: Callable[[], int]) -> None:
        """The search (unless a checkpoint says it is over), then the retrain."""
        payloads = self._payloads
        if self.coll.is_main:  # rank 0 alone reads the control file
            self.control.attach(self.run_dir.control_file)
        search_payload = payloads.get("search")
        search_finished = search_payload is not None and CheckpointHeader.of(search_payload).finished
        if self.do_search and not search_finished and "retrain" not in payloads:
            result.search = self._search(search_payload, offset)
        if self.do_retrain and result.status == "done":
            if "retrain" not in payloads:  # the search's stop requests are not the retrain's
                self.control.clear_stop()
            result.retrain = self._retrain(payloads.get("retrain"), offset)

    @contextmanager
    def _event_files(self) -> Iterator[Callable[[], int]]:
        """One voice: rank 0 alone writes the event file (and TensorBoard's); yields the event file's
        length for the checkpoints (0 on the other ranks, which write nothing)."""
        if not self.coll.is_main:
            yield lambda: 0
            return
        sink = self.bus.subscribe(JsonlSink(self.run_dir.events_file))
        progress = self.bus.subscribe(ProgressFile(self.run_dir.progress_file))  # for an attached watcher
        tb = None
        if self.config.run.tensorboard:
            from core.run.tensorboard import TB_DIR, TensorBoardSink

            tb = self.bus.subscribe(TensorBoardSink(self.run_dir.path / TB_DIR))
        try:
            yield lambda: sink.offset
        finally:
            self.bus.unsubscribe(sink)
            self.bus.unsubscribe(progress)
            sink.close()
            if tb is not None:
                self.bus.unsubscribe(tb)
                tb.close()

    def _suspended(self, err: Interrupted) -> None:
        """Say in the event file that the run left on request, resumable (after the checkpoint: a resume
        cuts this line away with the rest of what the checkpoint did not know)."""
        phase = "retrain" if err.phase == "retrain" else "search"
        ckpt = self.run_dir.retrain_ckpt if phase == "retrain" else self.run_dir.search_ckpt
        by = self.control.poll().interrupt_by or "interrupt"
        digests = err.digests or None  # several ranks: each one's state where it left
        event = Suspended(
            phase=phase, epoch=err.epoch, step=err.step, by=by, checkpoint=str(ckpt), rank_state_sha256=digests
        )
        self._emit_closing(event)

    def _emit_closing(self, event: Error | Suspended) -> None:
        """The closing event of a run that failed or left: when the disk itself is what failed, the event
        file may refuse it too; the result's message (stderr) still says what happened."""
        try:
            self.bus.emit(event)
        except PresnetError as err:
            sys.stderr.write(f"error: the closing event was not written either: {err.line()}\n")

    def _keep_traceback(self) -> str:
        """Where this bug's traceback went: the run's error log (rank 0), or this rank's stderr."""
        if self.coll.is_main:
            self.run_dir.error_log.write_text(traceback.format_exc())
            return str(self.run_dir.error_log)
        sys.stderr.write(traceback.format_exc())
        return f"rank {self.coll.rank}'s stderr"

    @property
    def coll(self) -> Collectives:
        """This process's ranks (read when asked: a torchrun worker joins its group after building the job)."""
        return collectives()

    def _engine_control(self) -> LoopControl:
        """The engines' control: this process's own, or, distributed, one every rank agrees on."""
        return self.coll.control(self.control, resolve_device(self.config.run.device))

    def _epochs_done(self) -> int:
        history = self.run_dir.epoch_history()
        return history[-1].epoch if history else 0

    def _resume_payloads(self, num_classes: int) -> dict[str, dict[str, Any]]:
        """Checkpoints to continue from, each checked against this run's network and space;
        only then is the event file cut back to the newest checkpoint's view."""
        run = self.run_dir
        payloads: dict[str, dict[str, Any]] = {}
        if run.search_ckpt.exists():
            payloads["search"] = load_checkpoint(
                run.search_ckpt,
                "search",
                search_fingerprint(
                    net_spec(self.config, num_classes),
                    self.config.search_space(),
                    self.config.progressive_stages(),
                ),
            )
        if run.retrain_ckpt.exists():
            arch = self.arch or load_arch(run.retrain_arch_file)
            payloads["retrain"] = load_checkpoint(run.retrain_ckpt, "retrain", retrain_fingerprint(arch))
        newest = payloads.get("retrain") or payloads.get("search")
        world = self.coll.world_size
        head = CheckpointHeader.of(newest) if newest is not None else None
        if head is not None and head.world_size != world:
            was = head.world_size
            raise PresnetError(
                f"the checkpoint was written by {was} process(es), this resume runs {world}",
                where=str(run.path),
                hint=f"resume with --nproc {was} (the data shards and the global batch depend on it)",
            )
        if self.coll.is_main:
            repair_events(run.events_file, head.events_offset if head else 0)
            for folder in (run.checkpoints, run.weights):  # writes the last owner died in; we hold the lock
                for tmp in folder.glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)
        return payloads

    def _loop_context(self, ckpt_path: Path, offset: Callable[[], int], payload: dict[str, Any] | None) -> LoopContext:
        """What the search and the retrain loop are both given (a resumed loop: its recorded speed settings)."""
        recorded = payload.get("tuning") if payload is not None else None
        tuning = Tuning.model_validate(recorded) if recorded is not None else None
        return LoopContext(self.config, self.bus, self._engine_control(), ckpt_path, offset, self.data(), tuning)

    def _search(self, payload: dict[str, Any] | None, offset: Callable[[], int]) -> SearchOutcome:
        run = self.run_dir
        engine = SearchEngine(self._loop_context(run.search_ckpt, offset, payload))
        if payload is not None:
            engine.load(payload)
        self.bus.emit(engine.started_event(resumed=payload is not None))
        if self.warning:
            self.bus.emit(SpaceWarning(message=self.warning, where="space.void_kernels"))
        for message, where in self.budget_warnings:
            self.bus.emit(SpaceWarning(message=message, where=where))
        outcome = engine.run()
        rule = self.config.search.rule
        self.bus.emit(
            SearchStopped(
                epoch=outcome.epoch,
                reason=outcome.reason,
                elapsed_s=round(outcome.elapsed_s, 3),
                rule=rule,
                architecture_epoch=outcome.arch_epoch,
            )
        )
        frozen = engine.stages.frozen_confidence if engine.stages else []  # gone from the final alphas
        conf = confidence(outcome.alphas, outcome.tracker or engine.tracker, engine.arch_steps, frozen)
        arch = with_confidence(outcome.architecture, conf)
        params = count_params(arch.build())
        main = self.coll.is_main
        if main:
            save_arch(run.arch_file, arch)
        fault_point("derive", outcome.epoch)  # test-only (core.faults)
        self.bus.emit(
            ArchitectureDerived(
                epoch=outcome.arch_epoch,
                architecture=arch.model_dump(mode="json"),
                params=params,
                path=str(run.arch_file),
                confidence=conf.as_dict(),
            )
        )
        if conf.unsettled():  # the result's caveat, in the event file where every reader finds it
            self.bus.emit(SpaceWarning(message=conf.line(), where="search.decisions"))
        update_summary = run.update_summary if main else _skip
        update_summary(
            search={
                "epochs": outcome.epoch,
                "stop_reason": outcome.reason.value,
                "elapsed_s": round(outcome.elapsed_s, 3),
                "scope": self.config.space.scope,
                "block_ids": list(engine.space.block_ids),
                **({"stages": engine.stages.history} if engine.stages else {}),
                **({"rank_state_sha256": engine.rank_digests} if engine.rank_digests else {}),
                **conf.as_dict(),
                **stop_record(rule, outcome, engine.curvatures),
                **engine.probes.summary(outcome.arch_epoch, self.config.search.select),
                "probes": engine.probes.shares(outcome.elapsed_s),
                "tuning": engine.tuning.model_dump(),
            },
            architecture=arch.model_dump(mode="json"),
            params=params,
            world_size=engine.coll.world_size,
        )
        engine.save(finished=True)
        return outcome

    def _retrain(self, payload: dict[str, Any] | None, offset: Callable[[], int]) -> RetrainOutcome | None:
        run = self.run_dir
        main = self.coll.is_main
        if self.arch is not None:
            arch = self.arch
            if main:
                self._keep_retrain_arch(arch)
        else:
            arch = load_arch(run.retrain_arch_file)
        head = CheckpointHeader.of(payload) if payload is not None else None
        if payload is not None and head is not None and head.finished:
            if main:
                finished = RetrainOutcome.of_checkpoint(payload, arch)  # builds the network once, for its size
                if run.summary().retrain is None:  # killed between the last checkpoint and the summary
                    self._retrain_summary(arch, finished, head.world_size, [])
                # the cut-back event file ends before the closing event: write it (again), last
                self.bus.emit(finished.done_event(run.weights))
            return None
        engine = RetrainEngine(self._loop_context(run.retrain_ckpt, offset, payload), arch, run.weights)
        if payload is not None:
            engine.load(payload)
        self.bus.emit(engine.started_event(resumed=payload is not None))
        outcome = engine.run()
        fault_point("retrain_done", outcome.epochs)  # test-only: after the closing checkpoint, before the summary
        if main:
            self._retrain_summary(arch, outcome, engine.coll.world_size, engine.rank_digests, engine.tuning)
        self.bus.emit(outcome.done_event(run.weights))  # last: a reader that trusts it finds the summary whole
        return outcome

    def _keep_retrain_arch(self, arch: Architecture) -> None:
        """Write the architecture this job retrains where it belongs.  A run without one (``presnet
        retrain``, or a search's retrain of the search's own result) keeps it in arch.json and its
        summary; another architecture than the search's (the TUI's derive of a past epoch) gets its own
        file, named in summary.json's ``retrain_arch``, so the search's result is never overwritten."""
        run = self.run_dir
        searched = load_arch(run.arch_file) if run.arch_file.is_file() else None
        if searched is not None and searched.same_network(arch):  # the search's own result, in arch.json
            if run.summary().retrain_arch:
                run.update_summary(retrain_arch=None)  # no longer an earlier retrain's other file
            return
        if searched is None:
            save_arch(run.arch_file, arch)
            run.update_summary(architecture=arch.model_dump(mode="json"), params=count_params(arch.build()))
            return
        epoch = (arch.source or {}).get("epoch")
        name = f"arch-epoch{epoch}.json" if isinstance(epoch, int) else "arch-retrain.json"
        save_arch(run.path / name, arch)
        run.update_summary(retrain_arch=name)

    def _retrain_summary(
        self,
        arch: Architecture,
        outcome: RetrainOutcome,
        world_size: int,
        digests: list[str],
        tuning: Tuning | None = None,
    ) -> None:
        own = self.run_dir.summary().retrain_arch  # a past epoch's architecture: its own file and params
        result = {} if own else {"architecture": arch.model_dump(mode="json"), "params": outcome.params}
        self.run_dir.update_summary(
            **result,
            retrain={
                "epochs": outcome.epochs,
                "test_top1": outcome.test_top1,
                "val_top1": outcome.val_top1,
                "stopped": outcome.stopped,
                **({"arch_file": own, "params": outcome.params} if own else {}),
                **({"rank_state_sha256": digests} if digests else {}),
                **({"tuning": tuning.model_dump()} if tuning is not None else {}),
            },
            world_size=world_size,
        )


def stop_record(rule: str, outcome: SearchOutcome, curvatures: list[tuple[int, float]]) -> dict[str, Any]:
    """summary.json's account of the stop: the rule in force, whether and when it fired, the epoch the
    architecture comes from, what every rule said of the epochs run, and the curvature per epoch."""
    fired = outcome.reason in (StopReason.CONVERGED, StopReason.CURVATURE)
    return {
        "stop_rule": {
            "rule": rule,
            "fired": fired,
            "fired_at": outcome.epoch if fired else None,
            "architecture_epoch": outcome.arch_epoch,
        },
        "rules": outcome.verdicts.as_dict() if outcome.verdicts else {},
        "curvature": [[e, round(v, 6)] for e, v in curvatures],
        "entropy": entropies(outcome.alphas),
    }


def _skip(**_: Any) -> None:
    """What a rank other than 0 does instead of writing the summary."""


def resume_job(run: RunDir, retrain_after_search: bool = True) -> Job:
    """A job continuing a run where it stopped: its search (then, if asked, the retrain), or its retrain.

    A run is in its retrain phase once it has a retrain checkpoint, or when it never searched
    (``presnet retrain``/``baseline``: an architecture file and no search checkpoint).
    """
    in_retrain = (
        run.retrain_ckpt.exists() or run.summary().baseline or (run.arch_file.exists() and not run.search_ckpt.exists())
    )
    return Job(
        run.config(),
        run,
        EventBus(),
        Control(),
        search=not in_retrain,
        retrain=in_retrain or retrain_after_search,
        resume=True,
    )
