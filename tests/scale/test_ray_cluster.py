"""A sweep on a Ray cluster of two nodes (issue 40): Ray's own multi-node harness
(``ray.cluster_utils.Cluster``) starts a head and a second node on this machine, one CPU and a 100 MB
object store each.  ``presnet sweep --ray ADDRESS`` places two tiny runs; they land on both nodes
(each task's node is in its log and in ``sweep.json``).  The second node is killed while its run is
mid-search; that run is requeued, resumes from its checkpoint on the node left, and the sweep finishes.
``presnet compare`` over it equals a sweep of the same seeds on this machine alone (local workers)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support import REPO, child_env, invoke

pytestmark = pytest.mark.slow
ray_cluster = pytest.importorskip("ray.cluster_utils", reason="the ray extra is not installed")

MB = 2**20
NODE = {"num_cpus": 1, "object_store_memory": 100 * MB}
#: Ray notices a dead node after about 2 missed health checks of 1 s (its default waits far longer).
HEAD = {
    **NODE,
    "include_dashboard": False,
    "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 2},
}
CONFIG = {
    "network": {"width_mult": 0.125, "depths": [1, 1, 1, 1]},
    "data": {"dataset": "synthetic", "synthetic_size": 320, "batch_size": 16, "val_fraction": 0.25},
    # room after the first checkpoint; the probes every epoch: their time budget (search.probe_budget) is
    # measured as a run goes, so which epochs carry a readout differs between two sweeps, and compare shows it
    "search": {"epochs": 6, "warmup_epochs": 1, "alphas_every": 2, "probe_budget": 1.0},
    "retrain": {"epochs": 1},
    # one thread and one memory format on either side (auto measures, and may choose otherwise in each
    # process): the results compare bit for bit
    "run": {"device": "cpu", "threads": 1, "channels_last": "off"},
}
SEEDS = ["--scopes", "s", "--seeds", "0-1"]
#: What differs between two sweeps of the same runs in other directories: where, and how long.
NOT_RESULTS = ("runs", "search_s_mean")


def sweep(config: Path, out: Path, *placement: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "presnet_tui.cli", "sweep", "-c", str(config), *SEEDS, *placement, "--out", str(out)]
    return subprocess.Popen(cmd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, timeout: float = 400) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out.decode()
    return out.decode()


def nodes_in_logs(out: Path) -> dict[str, list[str]]:
    """Each run's ``ray node: ID IP`` lines, one per task that began it."""
    found = {}
    for log in (out / "logs").glob("*.log"):
        found[log.stem] = [line.split()[2] for line in log.read_text().splitlines() if line.startswith("ray node: ")]
    return found


def results(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in NOT_RESULTS}


def test_a_sweep_on_two_ray_nodes_survives_losing_one_and_compares_like_one_machine(tmp_path, monkeypatch):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    out, ref = tmp_path / "ray-sweep", tmp_path / "local-sweep"
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the nodes' workers start from this environment
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    cluster = ray_cluster.Cluster(initialize_head=True, head_node_args=HEAD)
    try:
        second = cluster.add_node(**NODE)
        head_id, second_id = cluster.head_node.node_id, second.node_id
        driver = sweep(config, out, "--ray", cluster.address, "--device", "cpu")
        deadline = time.monotonic() + 240
        victim = None
        while victim is None:  # the run on the second node, once it has a checkpoint: mid-search
            assert driver.poll() is None and time.monotonic() < deadline, finish(driver)
            on_second = [name for name, ids in nodes_in_logs(out).items() if second_id in ids] if out.exists() else []
            victim = next((n for n in on_second if (out / "runs" / n / "checkpoints" / "search.pt").exists()), None)
            time.sleep(0.2)
        cluster.remove_node(second, allow_graceful=False)  # the node dies: its raylet and workers are killed
        local = sweep(config, ref, "--workers", "2")  # the same seeds on this machine alone, meanwhile
        finish(driver)
    finally:
        cluster.shutdown()
    finish(local)

    logs = nodes_in_logs(out)
    assert logs[victim][0] == second_id and logs[victim][-1] == head_id, logs  # requeued onto the head
    assert {head_id, second_id} <= {i for ids in logs.values() for i in ids}  # the runs landed on both nodes
    record = json.loads((out / "sweep.json").read_text())
    assert record["states"] == dict.fromkeys(record["states"], "done")
    lost, then = record["nodes"][victim][0], record["nodes"][victim][-1]
    assert lost.startswith("lost: ") and then.split()[0] == head_id, record["nodes"]
    assert all(len(record["nodes"][n]) == 1 for n in record["nodes"] if n != victim), record["nodes"]
    ours, theirs = ([results(row) for row in json.loads(invoke("compare", d, "--json").stdout)] for d in (out, ref))
    assert ours == theirs and ours[0]["n"] == 2  # the same table, to the last digit
