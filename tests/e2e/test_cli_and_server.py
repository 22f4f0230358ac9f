"""End to end: the real executable creates workspaces and keys, serves on loopback over a
temporary SQLite file, and answers GraphQL over HTTP."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import aiohttp

from tests.support.procs import EXECUTABLE, cli_env, run_cli, start_server


async def _graphql(url: str, key: str, query: str, workspace: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    if workspace:
        headers["X-Workspace-ID"] = workspace
    async with aiohttp.ClientSession() as http, http.post(
        f"{url}/graphql", json={"query": query}, headers=headers
    ) as response:
        body = await response.json()
        body["_status"] = response.status
        return body


async def test_cli_then_http(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    mssp = run_cli(url, "workspace", "create", "northwind", "--name", "Northwind",
                   "--tier", "enterprise", "--rate-limit", "900")["workspace"]
    acme = run_cli(url, "workspace", "create", "acme", "--name", "Acme", "--tier", "growth",
                   "--parent", "northwind")["workspace"]
    assert acme["parent_id"] == mssp["id"]
    key = run_cli(url, "key", "create", "--workspace", "northwind", "--name", "ops")["key"]
    assert key["secret"].startswith("seliq_") and len(key["secret"]) >= 40
    read = run_cli(url, "key", "create", "--workspace", "acme", "--name", "ro",
                   "--scope", "read")["key"]
    listed = run_cli(url, "key", "list")["keys"]
    assert {k["id"] for k in listed} == {key["id"], read["id"]}
    assert all("secret" not in k for k in listed)
    hook = run_cli(url, "webhook", "create", "--workspace", "acme")["webhook"]
    assert "/webhook/acme/whk_" in hook["url"]
    assert hook["url"].endswith(f"/{hook['token']}") and hook["token"] != hook["id"]
    assert [w["slug"] for w in run_cli(url, "workspace", "list")["workspaces"]] == [
        "northwind", "acme"
    ]

    server = start_server(url)
    try:
        body = await _graphql(server.url, key["secret"],
                              "{ viewer { name workspace { slug children { slug } } } }")
        assert body["data"]["viewer"] == {
            "name": "ops", "workspace": {"slug": "northwind", "children": [{"slug": "acme"}]}
        }
        body = await _graphql(server.url, key["secret"],
                              "{ viewer { actingWorkspace { slug } } }", workspace="acme")
        assert body["data"]["viewer"]["actingWorkspace"]["slug"] == "acme"
        body = await _graphql(server.url, read["secret"], "{ viewer { scope } }",
                              workspace="northwind")
        assert body["_status"] == 403
        run_cli(url, "key", "revoke", read["id"])
        body = await _graphql(server.url, read["secret"], "{ viewer { scope } }")
        assert body["_status"] == 401
        # The printed token, in the header form.
        async with aiohttp.ClientSession() as http, http.post(
            f"{server.url}/webhook/acme", json={"title": "Disk full", "severity": "high"},
            headers={"Authorization": f"Bearer {hook['token']}"},
        ) as response:
            assert response.status == 202, await response.text()
            assert (await response.json())["accepted"] == 1
    finally:
        server.stop()


async def test_serve_demo_answers_with_printed_key(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    server = start_server(url, "--demo")
    try:
        assert server.process.stdout is not None
        info = json.loads(server.process.stdout.readline())
        body = await _graphql(
            server.url, info["key"],
            "{ incidents(first: 5) { totalCount edges { node { id title status } } } }",
        )
        incidents = body["data"]["incidents"]
        assert incidents["totalCount"] >= 20
        assert len(incidents["edges"]) == 5
        body = await _graphql(server.url, info["mssp_key"],
                              "{ workspaces { totalCount } alerts { totalCount } }")
        assert body["data"]["workspaces"]["totalCount"] == 3
        assert body["data"]["alerts"]["totalCount"] > 0
    finally:
        server.stop()


def test_demo_seeds_every_status_and_severity(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    info = run_cli(url, "demo")
    again = run_cli(url, "demo")
    assert info["key"] != again["key"], "each run mints a fresh key"
    import sqlite3

    conn = sqlite3.connect(tmp_path / "demo.db")
    statuses = {row[0] for row in conn.execute("SELECT DISTINCT status FROM incidents")}
    severities = {row[0] for row in conn.execute("SELECT DISTINCT severity FROM alerts")}
    (incidents,) = conn.execute("SELECT count(*) FROM incidents").fetchone()
    (alerts,) = conn.execute("SELECT count(*) FROM alerts").fetchone()
    (notes,) = conn.execute("SELECT count(*) FROM notes").fetchone()
    assert statuses == {"triggered", "acknowledged", "resolved"}
    assert severities == {"critical", "high", "medium", "low", "info"}
    assert 50 <= incidents <= 70 and 200 <= alerts <= 400 and notes > 0


def test_bad_setting_is_one_clear_line(tmp_path: Path) -> None:
    for env, needle in (
        ({"SELIQ_PORT": "eighty"}, "SELIQ_PORT"),
        ({"SELIQ_DATABASE_URL": "mysql://x"}, "SELIQ_DATABASE_URL"),
        ({"SELIQ_GRAPHIQL": "maybe"}, "SELIQ_GRAPHIQL"),
    ):
        full = cli_env(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", **env)
        done = subprocess.run(
            [EXECUTABLE, "serve"], env=full, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], done.stderr
        assert "Traceback" not in done.stderr


def test_unknown_workspace_is_a_json_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [EXECUTABLE, "key", "create", "--workspace", "nope", "--name", "x"],
        env=cli_env(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"), capture_output=True,
        text=True, timeout=30,
    )
    assert done.returncode == 1
    assert json.loads(done.stdout) == {"error": "no workspace 'nope'"}


def test_bad_database_url_never_echoes_its_password() -> None:
    env = cli_env("postgresql://seliq:S3cretPassw0rd@db.internal/seliq")
    done = subprocess.run(
        [EXECUTABLE, "serve"], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert "SELIQ_DATABASE_URL" in done.stderr
    assert "S3cretPassw0rd" not in done.stderr and "***" in done.stderr
