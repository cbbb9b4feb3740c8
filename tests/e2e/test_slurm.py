"""SLURM for real (issue 40): docs/scale.md's sbatch script, as the page prints it, under a one-node
SLURM (``munged``, ``slurmctld``, ``slurmd`` from Debian's ``slurm-wlm`` and ``munge``) started in a
temporary directory, on a tiny config.  Mid-search the job's step gets SIGTERM (``scancel
--signal=TERM``, what a preemption sends); presnet checkpoints and exits 143, the script's own line
requeues the job, the job comes back (``Restarts=1``), its one line resumes the run from the checkpoint,
and the run ends with the alphas, architecture, weights and test top-1 of an uninterrupted run.

The node offers one ``gpu`` (a stand-in: ``File=/dev/null`` in gres.conf) so that the script's
``--gres=gpu:1`` is scheduled as written; presnet runs on the CPU (the config says so).  SLURM holds a
requeued batch job back for two minutes (its ``BeginTime``); the test then asks for it now
(``scontrol update starttime=now``), as an administrator can.  Where SLURM is not installed or cannot
start (not root, a daemon refuses), the test skips, saying why; the daemons stop at its end.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from core.run.events import read_events
from tests.support import REPO, assert_resumed_like_uninterrupted, child_env

pytestmark = pytest.mark.slow

TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "sinfo")
NODE = "node0"
#: A tiny run: 8 search epochs (1 warm-up) of 18 steps, 1 retrain epoch, on synthetic images.  An epoch
#: takes a fraction of a second on an idle core: the 7 after the first checkpoint leave room for the signal.
CONFIG = {
    "space": {"scope": "m"},
    "network": {"width_mult": 0.125, "depths": [1, 1, 1, 1]},
    "data": {"dataset": "synthetic", "synthetic_size": 384, "batch_size": 16, "val_fraction": 0.25},
    # the probes every epoch: their time budget is measured as a run goes, and the two runs compared here
    # share the machine unevenly (one is preempted); a fixed schedule keeps everything but timing equal
    "search": {"epochs": 8, "warmup_epochs": 1, "alphas_every": 2, "probe_budget": 1.0},
    "retrain": {"epochs": 1},
    "run": {"device": "cpu", "threads": 1, "seed": 3, "channels_last": "off"},  # auto may choose otherwise per run
}


def docs_script() -> str:
    """The sbatch script of docs/scale.md's "Preemption and requeue (SLURM)" section, verbatim."""
    section = (REPO / "docs" / "scale.md").read_text().split("## Preemption and requeue (SLURM)", 1)[1]
    found = re.search(r"```bash\n(#!/bin/bash\n.*?)```", section, re.S)
    assert found, "docs/scale.md has no sbatch script under its SLURM section"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slurm_conf(d: Path, host: str) -> str:
    """One machine: controller and node on loopback, no cgroups, no accounting, state in ``d``."""
    return f"""ClusterName=presnettest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
AuthInfo=socket={d}/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
JobRequeue=1
GresTypes=gpu
NodeName={NODE} NodeAddr=127.0.0.1 CPUs=2 Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
"""


def tail(path: Path, lines: int = 5) -> str:
    return " | ".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


def stop_daemons(d: Path) -> None:
    """Each daemon by the pid it wrote, and wait until it is gone."""
    for name in ("slurmd", "slurmctld", "munged"):
        pid_file = d / f"{name}.pid"
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text().split()[0])
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)


def start_daemons(d: Path, env: dict[str, str]) -> None:
    """munged, then slurmctld and slurmd; skips (saying why) when one will not start or the node is not idle."""
    key = d / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    (d / "state").mkdir()
    (d / "spool").mkdir()
    munge = [
        "munged",
        "--force",
        f"--socket={d}/munge.socket",
        f"--key-file={key}",
        f"--pid-file={d}/munged.pid",
        f"--log-file={d}/munged.log",
        f"--seed-file={d}/munged.seed",
    ]
    for cmd, log in (
        (munge, "munged.log"),
        (["slurmctld", "-i"], "slurmctld.log"),
        (["slurmd", "-N", NODE], "slurmd.log"),
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            pytest.skip(
                f"SLURM cannot start here: {cmd[0]} exited {done.returncode}: {done.stderr.strip()} {tail(d / log)}"
            )
    deadline = time.monotonic() + 60
    state = ""
    while time.monotonic() < deadline:
        state = node_state(env)
        if state == "idle":
            return
        time.sleep(0.5)
    pytest.skip(f"SLURM cannot start here: node {NODE} is {state or 'unknown'}: {tail(d / 'slurmctld.log')}")


@pytest.fixture
def slurm(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A one-node SLURM in ``tmp_path/slurm``; yields the environment its clients need (``SLURM_CONF``)."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"SLURM is not installed ({', '.join(missing)} missing): apt-get install -y slurm-wlm munge")
    if os.geteuid() != 0:
        pytest.skip("SLURM's daemons need root here (SlurmUser=root in the test's slurm.conf)")
    d = tmp_path / "slurm"
    d.mkdir()
    (d / "slurm.conf").write_text(slurm_conf(d, socket.gethostname().split(".")[0]))
    (d / "gres.conf").write_text(f"NodeName={NODE} Name=gpu File=/dev/null\n")  # a stand-in GPU to schedule
    bin_dir = str(Path(sys.executable).parent)  # where `presnet` is installed
    env = child_env() | {"SLURM_CONF": str(d / "slurm.conf"), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    try:
        start_daemons(d, env)
        yield env
    finally:
        subprocess.run(["scancel", "--full", "--user=root"], env=env, capture_output=True, timeout=30)
        stop_daemons(d)


def job_info(job: str, env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run(["scontrol", "-o", "show", "job", job], env=env, capture_output=True, text=True).stdout
    return dict(re.findall(r"(\w+)=(\S*)", out))


def node_state(env: dict[str, str]) -> str:
    return subprocess.run(
        ["sinfo", "-h", "-n", NODE, "-o", "%T"], env=env, capture_output=True, text=True
    ).stdout.strip()


def wait_for(what: str, ready, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_the_docs_sbatch_script_preempted_requeued_and_resumed_matches_an_uninterrupted_run(slurm, tmp_path):
    script = docs_script()
    assert "--resume-if-exists" in script and 'scontrol requeue "$SLURM_JOB_ID"' in script
    work = tmp_path / "work"
    (work / "sample_configs").mkdir(parents=True)
    (work / "sample_configs" / "paper-s.yaml").write_text(yaml.safe_dump(CONFIG))  # the name the script uses
    (work / "job.sh").write_text(script)
    ref = tmp_path / "reference"
    reference = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "presnet_tui.cli",
            "run",
            "--headless",
            "-c",
            "sample_configs/paper-s.yaml",
            "--out",
            str(ref),
        ],
        cwd=work,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    submitted = subprocess.run(["sbatch", "--parsable", "job.sh"], cwd=work, env=slurm, capture_output=True, text=True)
    assert submitted.returncode == 0, submitted.stderr
    job = submitted.stdout.strip().split(";")[0]
    run, log = work / "runs" / f"slurm-{job}", work / f"slurm-{job}.out"

    wait_for("the first epoch's checkpoint", (run / "checkpoints" / "search.pt").exists)
    subprocess.run(["scancel", "--signal=TERM", job], env=slurm, check=True)  # the preemption, to the job step
    requeued = {"JobState": "PENDING", "Restarts": "1"}
    wait_for("the requeue", lambda: requeued.items() <= job_info(job, slurm).items(), timeout=120)
    suspended = read_events(run / "events.jsonl")[-1]
    assert suspended.kind == "suspended" and suspended.phase == "search" and suspended.by == "SIGTERM", suspended
    # SLURM holds a requeued batch job back 2 minutes (BeginTime), time for the node to clean up after
    # the first run: once the node is idle again, start it now
    wait_for("the node's clean-up", lambda: node_state(slurm) == "idle", timeout=120)
    time.sleep(2)
    subprocess.run(["scontrol", "update", f"jobid={job}", "starttime=now"], env=slurm, check=True)
    wait_for("the requeued job's end", lambda: job_info(job, slurm).get("JobState") in ("COMPLETED", "FAILED"), 300)
    info = job_info(job, slurm)
    assert (info["JobState"], info["ExitCode"], info["Restarts"]) == ("COMPLETED", "0:0", "1"), (
        info,
        tail(log, 8),
        tail(tmp_path / "slurm" / "slurmd.log", 12),
    )
    text = log.read_text()  # --open-mode=append: both runs of the job in one file
    assert "suspended by SIGTERM at search epoch" in text and "exit code 143" in text, text
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err.decode()

    assert_resumed_like_uninterrupted(run, ref, 8)
