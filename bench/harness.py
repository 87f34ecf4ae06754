"""The benchmark harness: each scenario times our code beside a baseline run in the same process, and prints one
JSON line {scenario, figure, unit, baseline, ratio, ...}. Benchmarks are not tests: nothing here asserts."""

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path


def setup_django() -> None:
    """Configure Django for a benchmark run: the project settings, PostgreSQL and Redis from the environment."""
    root = Path(__file__).resolve().parent
    sys.path[:0] = [str(root.parent), str(root)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query in memory and slows everything
    import django

    django.setup()


def rate(work: Callable[[], None], *, repeat: int, rounds: int = 3) -> float:
    """Operations per second of `work` (called `repeat` times per round), the best of `rounds`."""
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeat):
            work()
        best = max(best, repeat / (time.perf_counter() - started))
    return best


def report(scenario: str, *, figure: float, baseline: float, unit: str, **extra) -> dict:
    """Print and return one result line; ratio = figure / baseline (higher figure is better for rates)."""
    line = {
        "scenario": scenario,
        "figure": round(figure, 1),
        "unit": unit,
        "baseline": round(baseline, 1),
        "ratio": round(figure / baseline, 3) if baseline else None,
        **extra,
    }
    print(json.dumps(line, ensure_ascii=False), flush=True)
    return line


def median(values: list[float]) -> float:
    return statistics.median(values)
