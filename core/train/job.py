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
from typing import Literal

from core.config import Config, check_void_kernels
from core.errors import PresnetError
from core.faults import fault_point
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
)
from core.run.progress import ProgressFile
from core.run.rundir import RunDir
from core.space.arch import Architecture, load_arch, save_arch
from core.space.network import count_params
from core.train.budget import preflight_warnings
from core.train.checkpoints import LoopHead, RetrainCheckpoint, SearchCheckpoint
from core.train.collectives import Collectives, LoopControl, collectives
from core.train.data import SearchData, load_search_data
from core.train.datadir import check_image_folder
from core.train.device import precision_for, resolve_device
from core.train.dist_ops import RankDrift, check_sync_bn
from core.train.loop import Interrupted, LoopContext
from core.train.meters import Diverged
from core.train.pipeline import use_stream
from core.train.preflight import check_precision, check_splits, check_writable, splits_of, stream_splits
from core.train.results import derived, keep_retrain_arch, search_summary, write_retrain_summary
from core.train.resume import ResumePoint, resume_point
from core.train.retrain_loop import RetrainEngine, RetrainOutcome
from core.train.search_loop import SearchEngine, SearchOutcome


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
        #: (resume) the checkpoints to continue from, read and checked in :meth:`prepare`
        self._resume_from = ResumePoint()
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
            self._resume_from = resume_point(self.run_dir, self.config, self.arch, num_classes, self.coll)
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
        if self.coll.is_main:  # rank 0 alone reads the control file
            self.control.attach(self.run_dir.control_file)
        search, retrain = self._resume_from.search, self._resume_from.retrain
        search_finished = search is not None and search.head.header.finished
        if self.do_search and not search_finished and retrain is None:
            result.search = self._search(search, offset)
        if self.do_retrain and result.status == "done":
            if retrain is None:  # the search's stop requests are not the retrain's
                self.control.clear_stop()
            result.retrain = self._retrain(retrain, offset)

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

    def _loop_context(self, ckpt_path: Path, offset: Callable[[], int], head: LoopHead | None) -> LoopContext:
        """What the search and the retrain loop are both given (a resumed loop: its recorded speed settings)."""
        tuning = head.tuning if head is not None else None
        return LoopContext(self.config, self.bus, self._engine_control(), ckpt_path, offset, self.data(), tuning)

    def _search(self, ckpt: SearchCheckpoint | None, offset: Callable[[], int]) -> SearchOutcome:
        run = self.run_dir
        engine = SearchEngine(self._loop_context(run.search_ckpt, offset, ckpt.head if ckpt else None))
        if ckpt is not None:
            engine.load(ckpt)
        self.bus.emit(engine.started_event(resumed=ckpt is not None))
        if self.warning:
            self.bus.emit(SpaceWarning(message=self.warning, where="space.void_kernels"))
        for message, where in self.budget_warnings:
            self.bus.emit(SpaceWarning(message=message, where=where))
        outcome = engine.run()
        self.bus.emit(
            SearchStopped(
                epoch=outcome.epoch,
                reason=outcome.reason,
                elapsed_s=round(outcome.elapsed_s, 3),
                rule=self.config.search.rule,
                architecture_epoch=outcome.arch_epoch,
            )
        )
        self._derive(engine, outcome)
        engine.save(finished=True)
        return outcome

    def _derive(self, engine: SearchEngine, outcome: SearchOutcome) -> None:
        """The search's architecture: its file, its event (and the caveat when decisions are unsettled),
        and summary.json's search section."""
        run = self.run_dir
        arch, conf = derived(engine, outcome)
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
        if main:
            run.update_summary(
                search=search_summary(self.config, engine, outcome, conf),
                architecture=arch.model_dump(mode="json"),
                params=params,
                world_size=engine.coll.world_size,
            )

    def _retrain(self, ckpt: RetrainCheckpoint | None, offset: Callable[[], int]) -> RetrainOutcome | None:
        run = self.run_dir
        main = self.coll.is_main
        if self.arch is not None:
            arch = self.arch
            if main:
                keep_retrain_arch(run, arch)
        else:
            arch = load_arch(run.retrain_arch_file)
        if ckpt is not None and ckpt.head.header.finished:
            if main:
                finished = RetrainOutcome.of_checkpoint(ckpt, arch)  # builds the network once, for its size
                if run.summary().retrain is None:  # killed between the last checkpoint and the summary
                    write_retrain_summary(run, arch, finished, ckpt.head.header.world_size, [])
                # the cut-back event file ends before the closing event: write it (again), last
                self.bus.emit(finished.done_event(run.weights))
            return None
        engine = RetrainEngine(
            self._loop_context(run.retrain_ckpt, offset, ckpt.head if ckpt else None), arch, run.weights
        )
        if ckpt is not None:
            engine.load(ckpt)
        self.bus.emit(engine.started_event(resumed=ckpt is not None))
        outcome = engine.run()
        fault_point("retrain_done", outcome.epochs)  # test-only: after the closing checkpoint, before the summary
        if main:
            write_retrain_summary(run, arch, outcome, engine.coll.world_size, engine.rank_digests, engine.tuning)
        self.bus.emit(outcome.done_event(run.weights))  # last: a reader that trusts it finds the summary whole
        return outcome


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
