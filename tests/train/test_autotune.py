"""``auto`` speed settings: chosen by measuring, recorded, harmless to the run, never over a user's choice;
``run.compile``: on/off equivalence, fallback on a compiler failure, no trial for a short run."""

from __future__ import annotations

import json

import pytest
import torch

from core.config import RunConfig
from core.space import SearchSpace
from core.space.arch import load_arch
from core.space.network import NetSpec, SearchNet, build_plain
from core.space.proxyless import Mode
from core.train import autotune, compiling, tuning_cache
from core.train.device import Precision
from core.train.step import train_step
from tests.conftest import start_job

CPU = torch.device("cpu")
SPEC = NetSpec(10, "cifar", 0.125, (1, 1, 2, 1))


def tiny_search() -> SearchNet:
    torch.manual_seed(0)
    return SearchNet(SPEC, SearchSpace.build("m", depths=SPEC.depths))


def test_auto_times_both_formats_and_keeps_the_faster():
    net = tiny_search()
    prec, tuning = autotune.tune(
        RunConfig(device="cpu"), Precision(CPU, None, False), autotune.Probe(net, 8, 16, Mode.ALL_PATHS)
    )
    cl = tuning.get("channels_last")
    assert cl is not None and cl.how == "measured" and set(cl.seconds) == {"on", "off"}
    assert cl.choice in cl.seconds and "paired rounds" in cl.note  # chosen on the paired ratio, which it states
    assert prec.channels_last == (cl.choice == "on")
    amp = tuning.get("amp")  # the CPU keeps fp32 under auto, unmeasured, and says why
    assert amp is not None and amp.choice == "off" and amp.how == "fixed" and "fp32" in amp.note
    assert tuning.measure_s > 0 and "channels_last" in tuning.line()


def test_measuring_leaves_the_model_and_the_rng_streams_untouched():
    net = tiny_search()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    autotune.tune(RunConfig(device="cpu"), Precision(CPU, None, False), autotune.Probe(net, 8, 16, Mode.TWO_PATH))
    assert torch.equal(torch.get_rng_state(), rng)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights, alphas and BN statistics


def test_an_explicit_choice_is_never_measured():
    net = tiny_search()
    run = RunConfig(device="cpu", channels_last="on", amp="bf16")
    prec, tuning = autotune.tune(run, Precision(CPU, torch.bfloat16, True), autotune.Probe(net, 8, 16))
    assert prec.channels_last and prec.amp_dtype == torch.bfloat16
    assert [s.how for s in tuning.settings] == ["explicit", "explicit"] and tuning.measure_s == 0
    assert all(not s.seconds for s in tuning.settings)


def test_a_resume_replays_the_recorded_choice():
    _, tuning = autotune.tune(
        RunConfig(device="cpu"), Precision(CPU, None, False), autotune.Probe(tiny_search(), 8, 16)
    )
    replayed = autotune.replay(RunConfig(device="cpu"), Precision(CPU, None, False), tuning)
    assert replayed.channels_last == (tuning.choice("channels_last") == "on")


def test_a_measurement_is_kept_and_the_same_workload_reuses_it_so_a_seed_gives_one_result():
    run, prec = RunConfig(device="cpu"), Precision(CPU, None, False)
    first_prec, first = autotune.tune(run, prec, autotune.Probe(tiny_search(), 8, 16, Mode.TWO_PATH))
    assert tuning_cache.cache_path().exists() and first.get("channels_last").how == "measured"
    again_prec, again = autotune.tune(run, prec, autotune.Probe(tiny_search(), 8, 16, Mode.TWO_PATH))
    kept = again.get("channels_last")
    assert kept.how == "kept" and again.measure_s == 0 and str(tuning_cache.cache_path()) in kept.note
    assert (kept.choice, kept.seconds) == (first.get("channels_last").choice, first.get("channels_last").seconds)
    assert again_prec == first_prec and "kept" in again.line()
    # another workload (another batch size) is measured, not read from the first's entry
    _, other = autotune.tune(run, prec, autotune.Probe(tiny_search(), 4, 16, Mode.TWO_PATH))
    assert other.get("channels_last").how == "measured"
    assert len(json.loads(tuning_cache.cache_path().read_text())) == 2


def test_bench_measures_every_time_and_an_unreadable_cache_is_measured_over():
    run, prec = RunConfig(device="cpu"), Precision(CPU, None, False)
    probe = autotune.Probe(tiny_search(), 8, 16)
    _, fresh = autotune.tune(run, prec, probe, reuse=False)
    assert fresh.get("channels_last").how == "measured" and not tuning_cache.cache_path().exists()
    tuning_cache.cache_path().parent.mkdir(parents=True, exist_ok=True)
    tuning_cache.cache_path().write_text("{not json")
    _, measured = autotune.tune(run, prec, probe)
    assert measured.get("channels_last").how == "measured"
    assert len(json.loads(tuning_cache.cache_path().read_text())) == 1  # rewritten whole


def _run_twice(tiny, tmp_path, phase: str, **job_kw):
    """The same one-loop job (search or retrain) with ``channels_last: auto``, then with auto's choice
    given explicitly; returns both run directories and the auto run's record of the choice."""
    dirs, choice, record = [], "auto", None
    for name in ("auto", "explicit"):
        cfg = tiny(
            data={"dataset": "synthetic", "synthetic_size": 128, "batch_size": 16},
            search={"epochs": 2, "warmup_epochs": 1},
            retrain={"epochs": 1},
            run={"channels_last": choice, "out": str(tmp_path / f"{phase}-{name}")},
        )
        runner, run, events = start_job(cfg, **job_kw)
        assert runner.wait(timeout=300).status == "done"
        started = next(e for e in events if e.kind == f"{phase}_started")
        summary = getattr(run.summary(), phase)
        assert summary is not None and summary.tuning == started.tuning  # the event and the summary agree
        cl = summary.tuning.get("channels_last")
        if name == "auto":
            assert cl.how == "measured" and set(cl.seconds) == {"on", "off"} and summary.tuning.measure_s > 0
            choice, record = cl.choice, summary.tuning
        else:
            assert cl.how == "explicit" and cl.choice == choice
        dirs.append(run)
    return dirs, record


def _same_state(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_a_run_with_auto_computes_what_the_chosen_setting_given_explicitly_computes(tiny, tmp_path):
    """Bit for bit, each loop alone (the search and the retrain measure their own networks): the
    search's weights and alphas, then the retrain's weights and test top-1."""
    (auto, explicit), _ = _run_twice(tiny, tmp_path, "search", retrain=False)
    ckpt = [torch.load(r.search_ckpt, weights_only=False) for r in (auto, explicit)]
    assert _same_state(ckpt[0]["model"], ckpt[1]["model"])
    arch = load_arch(auto.arch_file)
    (auto, explicit), _ = _run_twice(tiny, tmp_path, "retrain", search=False, arch=arch)
    weights = [torch.load(r.weights / "last.pt", weights_only=False)["model"] for r in (auto, explicit)]
    assert _same_state(weights[0], weights[1])
    assert auto.summary().retrain.test_top1 == explicit.summary().retrain.test_top1  # type: ignore[union-attr]


# -- compilation ------------------------------------------------------------------------------------
def _tiny_plain() -> torch.nn.Module:
    """One block per stage: what dynamo traces (seconds per op on a loaded CPU) is kept short."""
    torch.manual_seed(0)
    return build_plain(NetSpec(10, "cifar", 0.0625, (1, 1, 1, 1)))


def test_compile_off_and_on_train_alike_on_a_tiny_net():
    """The compiled step (the ``aot_eager`` backend: AOTAutograd's graphs, no C++ build in CI) matches eager."""
    prec = Precision(CPU, None, False)
    eager, twin = _tiny_plain(), _tiny_plain()
    done = compiling.for_training("on", twin, prec, (8, 16), 10, None, backend="aot_eager")
    assert done.setting.choice == "on" and done.module is not twin and "compile" in done.setting.note
    assert all(torch.equal(a, b) for a, b in zip(eager.state_dict().values(), twin.state_dict().values()))
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(8, 3, 16, 16, generator=g), torch.randint(0, 10, (8,), generator=g)
    losses = []
    for model, fwd in ((eager, eager), (twin, done.module)):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu", enabled=False)
        losses.append([float(train_step(fwd, opt, scaler, prec, x, y)[0].detach()) for _ in range(3)])
    assert losses[0] == pytest.approx(losses[1], rel=1e-4, abs=1e-5)
    for a, b in zip(eager.parameters(), twin.parameters()):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_compiler_failure_falls_back_to_eager_with_the_state_untouched():
    def broken_backend(gm, example_inputs):
        raise RuntimeError("injected compiler failure")

    model = _tiny_plain()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    done = compiling.for_training("on", model, Precision(CPU, None, False), (8, 16), 10, None, backend=broken_backend)
    assert done.module is model and done.setting.choice == "off"
    assert "compilation failed" in done.setting.note and "injected" in done.setting.note
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_auto_does_not_try_a_compile_a_short_run_cannot_repay():
    model = _tiny_plain()
    done = compiling.for_training("auto", model, Precision(CPU, None, False), (8, 16), 100, 0.01)
    assert done.module is model and done.setting.how == "fixed" and "too short" in done.setting.note
    off = compiling.for_training("off", model, Precision(CPU, None, False), (8, 16), 10**6, 1.0)
    assert off.module is model and off.setting.how == "explicit"


def test_a_compiler_failure_in_a_run_is_one_warning_line(tiny, monkeypatch):
    """``run.compile: on`` with a compiler that fails: the retrain runs eager and says so once."""

    def broken(model, backend="inductor"):
        def fail(gm, example_inputs):
            raise RuntimeError("injected compiler failure")

        return torch.compile(model, backend=fail, dynamic=False)

    monkeypatch.setattr(compiling, "compile_module", broken)
    cfg = tiny(
        data={"dataset": "synthetic", "synthetic_size": 96, "batch_size": 16},
        search={"epochs": 2, "warmup_epochs": 1},
        retrain={"epochs": 1},
        run={"compile": "on"},
    )
    runner, run, events = start_job(cfg)
    assert runner.wait(timeout=300).status == "done"
    warnings = [e for e in events if e.kind == "warning" and e.where == "run.compile"]
    assert len(warnings) == 1 and "compilation failed" in warnings[0].message
    retrain = run.summary().retrain
    assert retrain is not None and retrain.tuning is not None
    assert retrain.tuning.choice("compile") == "off"
