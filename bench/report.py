"""The results: a table on stdout, `latest.json`, and one dated line per run in `history.md`."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ORDER = ("T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T10b", "T11", "T12")
# Measured in a full run only (`--quick` leaves them out unless `--only` names them).
FULL_ONLY = ("T9",)
# Measured with `--peer` only (or when `--only` names them): they install Node and PostGraphile.
PEER_ONLY = ("T10", "T10b")


@dataclass
class Ratio:
    id: str
    name: str
    target: str  # e.g. ">= 0.5"
    value: float | None = None
    unit: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        op, _, number = self.target.partition(" ")
        threshold = float(number)
        if op == ">=":
            return self.value >= threshold
        if op == "<=":
            return self.value <= threshold
        return abs(self.value - threshold) < 1e-9

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == "MiB":
            return f"{self.value:.0f} MiB"
        if self.unit == "s":
            return f"{self.value:.2f} s"
        return f"{self.value:.2f}"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "value": self.value, "unit": self.unit or None,
            "target": self.target, "met": self.met, "detail": self.detail,
        }


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "system": f"{platform.system()} {platform.release()}",
        "commit": _commit(),
    }


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parents[1],
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def table(ratios: dict[str, Ratio], header: str) -> str:
    lines = [header, ""]
    lines.append(f"{'id':<4} {'ratio':<76} {'value':>9}  {'target':<8} met")
    for key in ORDER:
        ratio = ratios.get(key)
        if ratio is None:
            continue
        met = {True: "yes", False: "NO", None: "-"}[ratio.met]
        lines.append(f"{key:<4} {ratio.name:<76} {ratio.shown():>9}  {ratio.target:<8} {met}")
    return "\n".join(lines)


def details(ratios: dict[str, Ratio]) -> str:
    lines = []
    for key in ORDER:
        ratio = ratios.get(key)
        if ratio is None or not ratio.detail:
            continue
        shown = ", ".join(f"{k}={_short(v)}" for k, v in ratio.detail.items() if k != "rounds")
        lines.append(f"  {key}: {shown}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return str(value)


def write(
    ratios: dict[str, Ratio], mode: str, settings: dict[str, Any], results_dir: Path,
    about: dict[str, Any],
) -> dict[str, Any]:
    """Record a run; `about` is `machine()`, as the printed header showed it."""
    results_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    document = {
        "date": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "mode": mode,
        "machine": about,
        "settings": settings,
        "ratios": {key: ratios[key].as_json() for key in ORDER if key in ratios},
    }
    (results_dir / "latest.json").write_bytes(
        orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    )
    history = results_dir / "history.md"
    header = "| date (UTC) | mode | commit | " + " | ".join(ORDER) + " | machine |\n"
    rule = "|---|---|---|" + "---|" * len(ORDER) + "---|\n"
    if not history.exists():
        history.write_text(
            "# Benchmark history\n\n"
            "One line per `python -m bench` run (`make bench`); see docs/performance.md "
            "for what each ratio means and its target.\n\n" + header + rule
        )
    else:
        _widen_header(history, header, rule)
    cells = []
    for key in ORDER:
        ratio = ratios.get(key)
        cells.append("-" if ratio is None else ratio.shown() + ("" if ratio.met else " ✗"))
    cpu = f"{about['cpu']}, {about['cores']} cores, Python {about['python']}"
    with history.open("a") as out:
        out.write(
            f"| {now:%Y-%m-%d %H:%M} | {mode} | {about['commit'] or '-'} | "
            + " | ".join(cells) + f" | {cpu} |\n"
        )
    return document


def _widen_header(history: Path, header: str, rule: str) -> None:
    """A history started before a ratio was added gets its column, wherever it goes: the older
    lines' cells are rearranged under the new header by column name, "-" where they had none."""
    lines = history.read_text().splitlines(keepends=True)
    if header in lines:
        return
    new_names = _cells(header)
    old_names: list[str] = []
    for index, line in enumerate(lines):
        if line.startswith("| date (UTC) |"):
            old_names = _cells(line)
            lines[index] = header
            if index + 1 < len(lines) and lines[index + 1].startswith("|---"):
                lines[index + 1] = rule
        elif old_names and line.startswith("| ") and not line.startswith("|---"):
            cells = dict(zip(old_names, _cells(line), strict=False))
            lines[index] = "| " + " | ".join(cells.get(n, "-") for n in new_names) + " |\n"
    history.write_text("".join(lines))


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]
