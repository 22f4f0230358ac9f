"""`seliq-gateway schema ...`: the published GraphQL schema (SDL), which client code is built from.

    seliq-gateway schema print [--output schema.graphql]
    seliq-gateway schema check schema.graphql

`print` writes the SDL of the schema this code serves: to stdout, or to `--output FILE`. The
repository commits it as `schema.graphql` (a test fails when it is stale), so frontend teams run
graphql-codegen or Apollo's tooling against a file instead of introspecting a running server.

`check FILE` compares FILE (what clients generated their code against: the committed
`schema.graphql`) with the schema of this code, using graphql-core's `find_breaking_changes`:
each change that would break a client built from FILE (a type, field, argument or enum value
removed, a type changed, an argument made required, ...) is printed and the exit code is 1.
Dangerous changes (an enum value or an optional argument added, a default changed) are printed
as warnings, and non-breaking differences (new fields, new types, descriptions) as a reminder to
regenerate FILE; both exit 0. `make lint` runs the check, so a break stays flagged until someone
regenerates the file on purpose, which puts the break in the diff for review.

Unlike the other management commands these print text, not JSON (the SDL itself, or lines a
person reads in `make lint`), and need neither settings nor a database: a frontend's CI can run
them from a plain install. Exit codes: 0 fine, 1 breaking changes, 2 FILE missing or not SDL.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from graphql import GraphQLError, build_schema
from graphql.utilities import find_breaking_changes, find_dangerous_changes

from schema.build import build_schema as build_gateway_schema


def regenerate(path: Path | str = "schema.graphql") -> str:
    """The command that rewrites `path` from the code (quoted in messages and in the tests)."""
    return f"seliq-gateway schema print --output {path}"


def add_parsers(commands: Any) -> None:
    group = commands.add_parser(
        "schema", help="the GraphQL schema (SDL) for client code generation"
    ).add_subparsers(dest="action", required=True)
    printer = group.add_parser("print", help="write the SDL of the schema this code serves")
    printer.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    check = group.add_parser(
        "check", help="list what would break clients generated from FILE; exit 1 if anything"
    )
    check.add_argument("file", type=Path, help="the committed SDL, e.g. schema.graphql")


def sdl() -> str:
    """The SDL of the schema this code serves, ending in one newline.

    Built without the execution extensions: they change how operations run, not the schema.
    """
    return build_gateway_schema(with_extensions=False).as_str().rstrip("\n") + "\n"


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run `schema print` or `schema check`; the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.action == "print":
        return _print(args.output, out, err)
    return check(args.file, out, err)


def _print(output: Path | None, out: TextIO, err: TextIO) -> int:
    text = sdl()
    if output is None:
        out.write(text)
        return 0
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"seliq-gateway schema print: cannot write {output}: {exc.strerror}", file=err)
        return 2
    print(f"wrote {output} ({len(text.splitlines())} lines)", file=err)
    return 0


def check(path: Path, out: TextIO, err: TextIO) -> int:
    """Compare the SDL in `path` (old: what clients use) with this code's schema (new)."""
    name = str(path)
    try:
        committed = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"seliq-gateway schema check: cannot read {name}: {exc.strerror}; "
              f"create it with `{regenerate(path)}`", file=err)
        return 2
    try:
        old = build_schema(committed)
    except (GraphQLError, TypeError) as exc:
        print(f"seliq-gateway schema check: {name} is not a valid schema: {exc}", file=err)
        return 2
    current = sdl()
    new = build_schema(current)
    breaking = find_breaking_changes(old, new)
    dangerous = find_dangerous_changes(old, new)
    for change in dangerous:
        print(f"{name}: warning: {change.type.name}: {change.description}", file=out)
    if breaking:
        count = f"{len(breaking)} breaking change{'s' if len(breaking) != 1 else ''}"
        print(f"{name}: {count} in the schema this code serves; clients generated from "
              f"{name} would break:", file=out)
        for broken in breaking:
            print(f"  {broken.type.name}: {broken.description}", file=out)
        print(f"If the break is deliberate, regenerate the file ({regenerate(path)}), commit "
              "it with the change and tell the client teams; otherwise keep what clients use "
              "(deprecate it first with `deprecation_reason=`, remove it in a later release).",
              file=out)
        return 1
    if committed != current:
        print(f"{name}: no breaking change, but the file is out of date; regenerate it: "
              f"{regenerate(path)}", file=out)
    else:
        print(f"{name}: up to date with the schema this code serves", file=out)
    return 0
