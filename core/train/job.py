"""One run directory's work -- search, derive, retrain -- and how to resume it.

A :class:`Job` is what a runner thread executes.  It owns the run's event file:
on resume it first cuts ``events.jsonl`` back to the length the checkpoint
recorded, so the history holds every epoch exactly once.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from typing import Any, Literal

from core.config import Config
from core.errors import PresnetError
from core.faults import fault_point
from core.run.checkpoint import load_checkpoint
from core.run.control import Control
from core.run.events import (
    ArchitectureDerived,
    Error,
    EventBus,
    JsonlSink,
    SearchStarted,
    SearchStopped,
    SpaceWarning,
    StageEnd,
    StopReason,
    repair_events,
)
from core.run.rundir import RunDir
from core.space.arch import (
    Architecture,
    from_choices,
    load_arch,
    merged_choices,
    save_arch,
    snapshot_to_choices,
)
from core.space.geometry import check_void_kernels
from core.space.network import count_params, net_spec
from core.train.collectives import Collectives, LoopControl, collectives
from core.train.data import SearchData, check_image_folder, load_search_data
from core.train.device import precision_for, resolve_device
from core.train.dist_ops import RankDrift, check_sync_bn
from core.train.loop import Diverged, Interrupted
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


def derive_at(run: RunDir, epoch: int | None = None) -> Architecture:
    """The argmax architecture of any past epoch's alpha snapshot (default: the last)."""
    events = run.events()
    history = run.epoch_history(events)
    if not history:
        raise PresnetError(
            "the run has no finished search epoch yet", where=str(run.path), hint="wait for the first epoch to end"
        )
    if epoch is None:
        chosen = history[-1]
    else:
        matches = [h for h in history if h.epoch == epoch]
        if not matches:
            raise PresnetError(
                f"no epoch {epoch} in the history (epochs {history[0].epoch}..{history[-1].epoch})",
                where="--epoch",
                hint="pick an epoch that has ended",
            )
        chosen = matches[0]
    config = run.config()
    space = config.search_space()
    spec = net_spec(config, _num_classes(run, events))
    if config.search.progressive is None:
        choices = snapshot_to_choices(chosen.alphas, space)
    else:  # the choices frozen by then, and the argmax of the decisions still open at that epoch
        frozen: dict[int, dict[str, str]] = {}
        for e in events:
            if isinstance(e, StageEnd) and e.epoch <= chosen.epoch:
                for b, decisions in e.frozen.items():
                    frozen.setdefault(int(b), {}).update(decisions)
        choices = merged_choices(chosen.alphas, frozen, space)
    return from_choices(choices, spec, source={"run": str(run.path), "epoch": chosen.epoch})


def _num_classes(run: RunDir, events: list[Any]) -> int:
    for e in events:
        if isinstance(e, SearchStarted):
            return e.num_classes
    raise PresnetError(
        "the event file has no search_started event",
        where=str(run.events_file),
        hint="derive needs a run directory written by a search",
    )


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
            self.run_dir.release_lock()
            raise

    def _prepare(self) -> Job:
        if self.do_search:  # space.void_kernels: error refuses here, before any data is read
            self.warning = check_void_kernels(self.config)
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
        return self.resume and (self.run_dir.retrain_ckpt.exists() or "search" in self.run_dir.summary())

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
        payloads = self._payloads
        rank = self.coll
        # One voice: rank 0 alone writes the run directory (it holds the lock) and reads its control file.
        sink: JsonlSink | _NoSink = JsonlSink(run.events_file) if rank.is_main else _NoSink()
        if rank.is_main:
            self.bus.subscribe(sink)
        tb = None
        if self.config.run.tensorboard and rank.is_main:
            from core.run.tensorboard import TB_DIR, TensorBoardSink

            tb = self.bus.subscribe(TensorBoardSink(run.path / TB_DIR))
        result = JobResult("done", str(run.path))
        try:
            if rank.is_main:
                self.control.attach(run.control_file)
            search_payload = payloads.get("search")
            search_finished = bool(search_payload and search_payload.get("finished"))
            if self.do_search and not search_finished and "retrain" not in payloads:
                result.search = self._search(search_payload, sink)
            if self.do_retrain and result.status == "done":
                if "retrain" not in payloads:  # the search's stop requests are not the retrain's
                    self.control.clear_stop()
                result.retrain = self._retrain(payloads.get("retrain"), sink)
        except Interrupted as err:
            result.status, result.message = "interrupted", str(err)
        except PresnetError as err:
            result.status, result.message = "error", err.line()
            if isinstance(err, (Diverged, RankDrift)) and err.where == "search":
                self.bus.emit(SearchStopped(epoch=self._epochs_done(), reason=StopReason.ERROR))
            self.bus.emit(Error(message=err.line(), where=err.where))
        except Exception as err:  # a bug: keep the traceback for the report, tell the user where it is
            log = run.path / "error.log"
            if rank.is_main:
                log.write_text(traceback.format_exc())
            else:
                log = f"rank {rank.rank}'s stderr"  # type: ignore[assignment]
                sys.stderr.write(traceback.format_exc())
            result.status = "error"
            result.message = f"{err.__class__.__name__}: {err} (traceback in {log})"
            self.bus.emit(Error(message=result.message))
        finally:
            if rank.is_main:
                self.bus.unsubscribe(sink)
            sink.close()
            if tb is not None:
                self.bus.unsubscribe(tb)
                tb.close()
        return result

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
            arch = self.arch or load_arch(run.arch_file)
            payloads["retrain"] = load_checkpoint(run.retrain_ckpt, "retrain", retrain_fingerprint(arch))
        newest = payloads.get("retrain") or payloads.get("search")
        world = self.coll.world_size
        if newest is not None and int(newest.get("world_size", 1)) != world:
            was = int(newest.get("world_size", 1))
            raise PresnetError(
                f"the checkpoint was written by {was} process(es), this resume runs {world}",
                where=str(run.path),
                hint=f"resume with --nproc {was} (the data shards and the global batch depend on it)",
            )
        if self.coll.is_main:
            repair_events(run.events_file, newest["events_offset"] if newest else 0)
            for folder in (run.checkpoints, run.weights):  # writes the last owner died in; we hold the lock
                for tmp in folder.glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)
        return payloads

    def _search(self, payload: dict[str, Any] | None, sink: JsonlSink) -> SearchOutcome:
        run = self.run_dir
        engine = SearchEngine(
            self.config, self.bus, self._engine_control(), run.search_ckpt, lambda: sink.offset, self.data()
        )
        if payload is not None:
            engine.load(payload)
        self.bus.emit(engine.started_event(resumed=payload is not None))
        if self.warning:
            self.bus.emit(SpaceWarning(message=self.warning, where="space.void_kernels"))
        outcome = engine.run()
        self.bus.emit(SearchStopped(epoch=outcome.epoch, reason=outcome.reason, elapsed_s=round(outcome.elapsed_s, 3)))
        arch = outcome.architecture
        params = count_params(arch.build())
        main = self.coll.is_main
        if main:
            save_arch(run.arch_file, arch)
        fault_point("derive", outcome.epoch)  # test-only (core.faults)
        self.bus.emit(
            ArchitectureDerived(
                epoch=outcome.epoch, architecture=arch.model_dump(mode="json"), params=params, path=str(run.arch_file)
            )
        )
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
            },
            architecture=arch.model_dump(mode="json"),
            params=params,
            world_size=engine.coll.world_size,
        )
        engine.save(finished=True)
        return outcome

    def _retrain(self, payload: dict[str, Any] | None, sink: JsonlSink) -> RetrainOutcome | None:
        run = self.run_dir
        main = self.coll.is_main
        if self.arch is not None:
            arch = self.arch
            if main:
                save_arch(run.arch_file, arch)
        else:
            arch = load_arch(run.arch_file)
        if payload is not None and payload.get("finished"):
            if main and "retrain" not in run.summary():  # killed between the last checkpoint and the summary
                outcome = RetrainOutcome(
                    int(payload["epoch_done"]),
                    float(payload["last_top1"]),
                    float(payload["best"]),
                    count_params(arch.build()),
                    bool(payload.get("stopped", False)),
                )
                self._retrain_summary(arch, outcome, int(payload.get("world_size", 1)), [])
            return None
        engine = RetrainEngine(
            self.config,
            arch,
            self.bus,
            self._engine_control(),
            run.retrain_ckpt,
            run.weights,
            lambda: sink.offset,
            self.data(),
        )
        if payload is not None:
            engine.load(payload)
        self.bus.emit(engine.started_event(resumed=payload is not None))
        outcome = engine.run()
        fault_point("retrain_done", outcome.epochs)  # test-only: after the closing checkpoint, before the summary
        if main:
            self._retrain_summary(arch, outcome, engine.coll.world_size, engine.rank_digests)
        return outcome

    def _retrain_summary(
        self, arch: Architecture, outcome: RetrainOutcome, world_size: int, digests: list[str]
    ) -> None:
        self.run_dir.update_summary(
            architecture=arch.model_dump(mode="json"),
            params=outcome.params,
            retrain={
                "epochs": outcome.epochs,
                "test_top1": outcome.test_top1,
                "best_top1": outcome.best_top1,
                "stopped": outcome.stopped,
                **({"rank_state_sha256": digests} if digests else {}),
            },
            world_size=world_size,
        )


def _skip(**_: Any) -> None:
    """What a rank other than 0 does instead of writing the summary."""


class _NoSink:
    """The event file of a rank other than 0: nothing is written (rank 0 is the run's one voice)."""

    offset = 0

    def close(self) -> None:
        return None


def resume_job(run: RunDir, retrain_after_search: bool = True) -> Job:
    """A job continuing a run where it stopped: its search (then, if asked, the retrain), or its retrain.

    A run is in its retrain phase once it has a retrain checkpoint, or when it never searched
    (``presnet retrain``/``baseline``: an architecture file and no search checkpoint).
    """
    in_retrain = (
        run.retrain_ckpt.exists()
        or bool(run.summary().get("baseline"))
        or (run.arch_file.exists() and not run.search_ckpt.exists())
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
