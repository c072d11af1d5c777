"""Shared by the benchmark scripts: timing, peak memory and one table format with ratios."""

import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rate(work: Callable[[], object], count: int) -> float:
    """Run `work` `count` times; return operations per second."""
    start = time.perf_counter()
    for _ in range(count):
        work()
    return count / (time.perf_counter() - start)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(title: str, rows: list[tuple[str, float, str]], *, baseline: str,
                higher_is_better: bool = True, targets: dict[str, float] | None = None) -> bool:
    """Print rows (name, value, unit) with each value's ratio to the baseline row.

    `targets` maps a row name to the least acceptable ratio (or the most, when lower is
    better). Returns True when every target is met.
    """
    base = dict((name, value) for name, value, _ in rows)[baseline]
    print(f"\n{title}")
    print(f"{'measurement':48} {'value':>14} {'unit':10} {'ratio':>8} target")
    ok = True
    for name, value, unit in rows:
        ratio = value / base if base else float("nan")
        target = (targets or {}).get(name)
        verdict = ""
        if target is not None:
            met = ratio >= target if higher_is_better else ratio <= target
            ok &= met
            verdict = f"{'>=' if higher_is_better else '<='} {target:g} {'ok' if met else 'MISSED'}"
        print(f"{name:48} {value:14.2f} {unit:10} {ratio:8.3f} {verdict}")
    return ok
