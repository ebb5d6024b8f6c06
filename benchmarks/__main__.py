"""``python -m benchmarks [--smoke] [--repeat N] [--only NAME ...] [--out FILE]``
``python -m benchmarks --profile NAME [NAME ...] [--smoke]``

Runs each scenario ``--repeat`` times and prints, per figure, the median with the
spread (min-max) of the runs, after a line describing the machine. ``--out``
writes the same as JSON. ``--smoke`` shrinks every scenario to a few seconds so CI
proves the suite still runs; its figures mean nothing and nothing is asserted.
``--profile`` runs the named scenarios once with every gateway sampled by py-spy,
prints each gateway's top functions and keeps its stacks in ``profiles/`` (see
``benchmarks.profile``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import profile
from benchmarks.scenarios import SCENARIOS, Sizes


def machine() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "date": time.strftime("%Y-%m-%d"),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name in runs[0]:
        values = [run[name] for run in runs]
        out[name] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: prove the suite runs")
    parser.add_argument("--repeat", type=int, default=None, help="runs per scenario (3; smoke: 1)")
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), help="these scenarios")
    parser.add_argument("--out", help="also write the results here as JSON")
    parser.add_argument(
        "--profile",
        nargs="+",
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help="run these once, each gateway sampled by py-spy; top functions and stacks",
    )
    args = parser.parse_args()
    if args.profile:
        return profiled(args.profile, Sizes.smoke() if args.smoke else Sizes())
    sizes = Sizes.smoke() if args.smoke else Sizes()
    repeat = args.repeat or (1 if args.smoke else 3)
    report: dict[str, Any] = {"machine": machine(), "smoke": args.smoke, "repeat": repeat}
    print(json.dumps(report["machine"]), flush=True)
    for name in args.only or list(SCENARIOS):
        runs = [SCENARIOS[name](sizes) for _ in range(repeat)]
        report[name] = summarise(runs)
        for figure, stats in report[name].items():
            spread = "" if repeat == 1 else f"  ({stats['min']} - {stats['max']})"
            print(f"{name:>11}  {figure:<36} {stats['median']}{spread}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def profiled(names: list[str], sizes: Sizes) -> int:
    """``--profile``: each scenario once, its gateways sampled into ``profiles/NAME``."""
    print(json.dumps(machine()), flush=True)
    for name in names:
        folder = Path("profiles") / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.environ[profile.FOLDER] = str(folder)
        try:
            figures = SCENARIOS[name](sizes)
        finally:
            del os.environ[profile.FOLDER]
        for figure, value in figures.items():
            print(f"{name:>11}  {figure:<36} {value}", flush=True)
        print(f"\n{profile.table(folder)}\n\nstacks: {folder}/*.folded", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
