"""A serving process tunes its garbage collector once the app is up (`processes.tune_gc`): what
start-up made is frozen out of collections, and young collections run far less often. Run in a
process of its own: the test runner's collector stays as it is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import gc, json
from gateway.service.app import create_app
from gateway.domain.settings import Settings
from gateway.service.processes import GC_YOUNG_THRESHOLD, tune_gc
app = create_app(Settings(database_url="sqlite+aiosqlite:///unused.db"))  # never opened
before = gc.get_threshold()
tune_gc()
for _ in range(5000):  # cycles made while serving are still collected
    cycle = []
    cycle.append(cycle)
del cycle
collected = gc.collect()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count(),
                  "young": GC_YOUNG_THRESHOLD, "collected": collected}))
"""


def test_tune_gc_freezes_start_up_and_collects_less_often(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True,
        cwd=tmp_path,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["before"][0] == 700  # Python's default
    assert found["after"] == [found["young"], *found["before"][1:]]
    assert found["frozen"] > 100_000  # the schema, SQLAlchemy's mappers: never walked again
    assert found["collected"] >= 5000
