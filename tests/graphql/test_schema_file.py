"""The published schema: `schema.graphql` at the repository root is what `seliq-gateway schema
print` writes, and `seliq-gateway schema check` flags what would break clients generated from it.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from graphql import build_schema

from gateway.service.cli import main
from gateway.service.commands.schema import check, regenerate, sdl

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "schema.graphql"


def test_committed_schema_is_what_the_code_serves() -> None:
    assert COMMITTED.exists(), f"schema.graphql is missing; create it: {regenerate()}"
    assert COMMITTED.read_text(encoding="utf-8") == sdl(), (
        "schema.graphql is stale: the code serves a different schema. Regenerate it with "
        f"`{regenerate()}` (from the repository root), review the diff "
        "(`seliq-gateway schema check schema.graphql` before regenerating lists what would "
        "break clients) and commit it with the change."
    )


def test_the_sdl_is_a_complete_schema() -> None:
    schema = build_schema(sdl())
    assert schema.query_type is not None and schema.query_type.name == "Query"
    assert schema.mutation_type is not None and schema.subscription_type is not None
    assert {"alertsIngested", "incidentEvents", "reportCompleted"} <= set(
        schema.subscription_type.fields
    )
    assert "Node" in schema.type_map and "DateTime" in schema.type_map


def test_print_writes_stdout_or_the_output_file(tmp_path: Path) -> None:
    target = tmp_path / "out.graphql"
    assert main(["schema", "print", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == sdl()

    # stdout, in a process of its own as a frontend's CI would run it, with no
    # settings or database around (a bad SELIQ_* value does not matter to it).
    command = [sys.executable, "-c", "import sys; from gateway.service.cli import main; "
               "sys.exit(main())", "schema", "print"]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "SELIQ_PORT": "not-a-port"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == sdl()
    assert not (tmp_path / "seliq.db").exists()


def _check(committed: str, tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "schema.graphql"
    path.write_text(committed, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = check(path, out, err)
    return code, out.getvalue() + err.getvalue()


def test_check_passes_the_current_schema(tmp_path: Path) -> None:
    code, text = _check(sdl(), tmp_path)
    assert code == 0
    assert "up to date" in text


def test_check_flags_what_would_break_clients(tmp_path: Path) -> None:
    # A committed file with a field, an enum value and an argument the code no longer has,
    # as if the code had removed them.
    current = sdl()
    committed = (
        current.replace("  fingerprint: String!\n", "  fingerprint: String!\n  legacyKey: String\n",
                        1)
        .replace("enum AlertStatus {\n", "enum AlertStatus {\n  SUPPRESSED\n", 1)
    )
    assert committed != current
    code, text = _check(committed, tmp_path)
    assert code == 1
    assert "FIELD_REMOVED: Field Alert.legacyKey was removed." in text
    assert "VALUE_REMOVED_FROM_ENUM: Enum value AlertStatus.SUPPRESSED was removed." in text
    assert "2 breaking changes" in text
    assert regenerate(tmp_path / "schema.graphql") in text


def test_check_warns_about_dangerous_and_stale_but_passes(tmp_path: Path) -> None:
    # The code added an enum value (dangerous: a client's exhaustive switch may not handle it)
    # and a field (safe): nothing breaks, the file is stale.
    current = sdl()
    committed = current.replace("enum AlertStatus {\n  FIRING\n  RESOLVED\n}",
                                "enum AlertStatus {\n  FIRING\n}", 1)
    committed = committed.replace("  occurrences: Int!\n", "", 1)
    assert committed != current
    code, text = _check(committed, tmp_path)
    assert code == 0, text
    assert "warning: VALUE_ADDED_TO_ENUM" in text
    assert "out of date" in text and regenerate(tmp_path / "schema.graphql") in text


def test_check_refuses_a_missing_or_invalid_file(tmp_path: Path) -> None:
    code, text = _check("type Query {", tmp_path)
    assert code == 2 and "not a valid schema" in text
    out, err = io.StringIO(), io.StringIO()
    assert check(tmp_path / "missing.graphql", out, err) == 2
    assert "cannot read" in err.getvalue()


def test_check_is_the_lint_step(tmp_path: Path) -> None:
    """`make lint` runs `seliq-gateway schema check schema.graphql`; the CLI exit code is the
    check's."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "seliq-gateway schema check schema.graphql" in makefile
    assert main(["schema", "check", str(COMMITTED)]) == 0
    path = tmp_path / "schema.graphql"
    path.write_text(sdl().replace("  occurrences: Int!\n", "  occurrences: Int!\n  gone: Int\n", 1))
    assert main(["schema", "check", str(path)]) == 1
