"""Seliq benchmarks: `python -m bench [--quick]` prints the ratios T1..T8 (docs/performance.md).

Every figure is a ratio of two measurements taken in the same run (alternating rounds, medians),
so the speed of the machine cancels out. See `bench/run.py` for the orchestration and
docs/performance.md for what each ratio means.
"""

from __future__ import annotations

__all__: list[str] = []
