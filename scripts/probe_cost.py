"""The probes' cost at the paper's size, both sides of the share timed interleaved in one process
(core.perf.probe_cost): scope f of the CPU bench's network (width 0.25, 32 px, batch 64), each probe at
its default settings, against search iterations (weight step + two-path architecture step); the
paper's epoch is 45,000 / 64 such iterations.  Writes results/probe_cost/paper_f_cpu.json.

    OMP_NUM_THREADS=1 nice python scripts/probe_cost.py [--repeats 3] [--width 0.25]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from core.config import RunConfig
from core.perf import bench
from core.perf.probe_cost import bench_probes
from core.space import RESNET50_DEPTHS, SearchSpace
from core.space.network import NetSpec, SearchNet
from core.train.device import configure_torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--scope", default="f")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "probe_cost" / "paper_f_cpu.json")
    a = p.parse_args()
    device = torch.device("cpu")
    prec = configure_torch(RunConfig(device="cpu", threads=1), device)
    torch.manual_seed(0)
    setup = bench.Setup(device, prec, NetSpec(10, "imagenet", a.width, RESNET50_DEPTHS), 64, 32, a.repeats, 1, 0)
    net = SearchNet(setup.spec, SearchSpace.build(a.scope, depths=setup.spec.depths))
    w_opt = bench.sgd(net.weight_parameters())
    a_opt = torch.optim.Adam(net.arch_parameters(), lr=1e-3, betas=(0.0, 0.999))
    t0 = time.time()
    out = bench_probes(setup, net, bench.search_iteration(setup, net, w_opt, a_opt))
    out |= {
        "scope": a.scope,
        "width": a.width,
        "batch": 64,
        "image_size": 32,
        "repeats": a.repeats,
        "alphas": sum(x.numel() for x in net.arch_parameters()),
        "threads": torch.get_num_threads(),
        "wall_s": round(time.time() - t0, 1),
        "load_avg_at_end": os.getloadavg(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
