"""docs/integrations.md works as written: its curl commands and its Wazuh integration script run
against the real server (header auth, the path form, signing, idempotent retries), its
Alertmanager receiver is the one the real-client suite runs (and passes `amtool check-config`
when amtool is installed), and a Grafana group posted the way its contact point posts it opens
an incident."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from gateway.domain.ingest.webhook_auth import set_signing
from gateway.domain.storage.engine import Database
from gateway.domain.storage.models import Workspace
from tests.clients.prometheus_configs import alertmanager_config
from tests.ingest.conftest import Hook, alerts_of, post
from tests.ingest.payloads import grafana_group, wazuh_alert
from tests.support.server import Server

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
DOC_SLUG = "acme-corp"
BLOCK = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[str]:
    """The doc's fenced code blocks in `language`, in order (indented ones dedented)."""
    found = []
    for indent, lang, body in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        if lang == language:
            found.append("\n".join(line.removeprefix(indent) for line in body.splitlines()))
    return found


def require(*commands: str) -> None:
    missing = [name for name in commands if shutil.which(name) is None]
    if not missing:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{', '.join(missing)} required in CI")
    pytest.skip(f"{', '.join(missing)} not installed")


async def run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """A subprocess, awaited on the loop (the server under test answers on this loop too)."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def curl_blocks() -> list[str]:
    return [block for block in blocks("sh") if "curl" in block and "$SELIQ_URL" in block]


async def test_the_curl_commands_work_as_written(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    require("bash", "curl", "openssl")
    hook = hooks["acme"]
    env = {"SELIQ_URL": server.url, "SELIQ_WEBHOOK_TOKEN": hook.token}
    create, resolve, path_form, signed = [
        block.replace(f"/webhook/{DOC_SLUG}", f"/webhook/{hook.slug}") for block in curl_blocks()
    ]
    outcomes = []
    for script in (create, resolve, path_form):
        code, out, err = await run("bash", "-euo", "pipefail", "-c", script, env=env)
        assert code == 0, (script, out, err)
        outcomes.append(orjson.loads(out)["results"][0]["outcome"])
    assert outcomes == ["created", "resolved", "created"]
    alerts = {a.fingerprint: a for a in await alerts_of(db, hook.workspace_id)}
    assert alerts["zabbix-disk-db-1"].status == "resolved"
    assert alerts["zabbix-disk-db-1"].source == "zabbix"

    async with db.write() as session:  # as `webhook rotate --signing` does
        workspace = await session.get(Workspace, hook.workspace_id)
        assert workspace is not None
        secret = set_signing(workspace, True)
        session.add(workspace)
    assert secret is not None
    env["SELIQ_SIGNING_SECRET"] = secret
    code, out, err = await run("bash", "-euo", "pipefail", "-c", signed, env=env)
    assert code == 0, (out, err)
    assert orjson.loads(out)["accepted"] == 1
    code, out, _ = await run("bash", "-euo", "pipefail", "-c", create, env=env)
    assert code != 0 and orjson.loads(out)["error"]["code"] == "unauthenticated"


def wazuh_script(tmp_path: Path) -> Path:
    (script,) = [block for block in blocks("python") if "wazuh-integratord" in block]
    path = tmp_path / "custom-seliq"
    path.write_text(script, encoding="utf-8")
    return path


async def test_the_wazuh_integration_script_posts_with_the_header(
    server: Server, db: Database, hooks: dict[str, Hook], tmp_path: Path
) -> None:
    hook = hooks["acme"]
    script = wazuh_script(tmp_path)
    alert_file = tmp_path / "alert.json"
    alert_file.write_bytes(orjson.dumps(wazuh_alert(level=12, agent="web-07")))
    (integration,) = blocks("xml")
    assert "<name>custom-seliq</name>" in integration
    assert "<alert_format>json</alert_format>" in integration
    hook_url = f"{server.url}/webhook/{hook.slug}"

    # As wazuh-integratord calls it: <alert file> <api_key> <hook_url> (Wazuh's python there).
    for _ in range(2):  # the second call is a retry of the same alert: answered once
        code, out, err = await run(sys.executable, str(script), str(alert_file), hook.token,
                                   hook_url, "debug")
        assert code == 0, (out, err)
    (alert,) = [a for a in await alerts_of(db, hook.workspace_id) if a.source == "wazuh"]
    assert alert.severity == "high"  # rule level 12
    assert alert.labels["host"] == "web-07"
    assert alert.title.startswith("sshd: brute force")
    assert alert.occurrences == 1

    code, _, err = await run(sys.executable, str(script), str(alert_file), hook.token + "x",
                             hook_url)
    assert code == 1 and "HTTP 404" in err
    assert hook.token not in err


def _webhook_config(config: dict[str, Any]) -> dict[str, Any]:
    (receiver,) = [r for r in config["receivers"] if r.get("webhook_configs")]
    (webhook,) = receiver["webhook_configs"]
    return dict(webhook)


async def test_the_alertmanager_receiver_is_the_tested_one(tmp_path: Path) -> None:
    documented = next(
        yaml.safe_load(block) for block in blocks("yaml") if "webhook_configs" in block
    )
    tested = yaml.safe_load(alertmanager_config("https://seliq.example.com", DOC_SLUG, "whk_x"))
    doc_hook, tested_hook = _webhook_config(documented), _webhook_config(tested)
    assert doc_hook["url"] == tested_hook["url"] == f"https://seliq.example.com/webhook/{DOC_SLUG}"
    assert doc_hook["send_resolved"] is tested_hook["send_resolved"] is True
    authorization = doc_hook["http_config"]["authorization"]
    assert authorization["type"] == tested_hook["http_config"]["authorization"]["type"] == "Bearer"
    assert set(authorization) == set(tested_hook["http_config"]["authorization"])
    if shutil.which("amtool") is None:
        return  # the real-client suite installs it (.ci/install-clients)
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(documented), encoding="utf-8")
    code, out, err = await run("amtool", "check-config", str(config))
    assert code == 0, (out, err)


async def test_a_grafana_group_with_header_auth_opens_an_incident(
    server: Server, db: Database, hooks: dict[str, Hook]
) -> None:
    hook = hooks["acme"]
    (provisioning,) = [
        yaml.safe_load(block) for block in blocks("yaml") if "contactPoints" in block
    ]
    (receiver,) = provisioning["contactPoints"][0]["receivers"]
    settings = receiver["settings"]
    assert receiver["type"] == "webhook" and receiver["disableResolveMessage"] is False
    assert settings["authorization_scheme"] == "Bearer"
    assert settings["url"].endswith(f"/webhook/{DOC_SLUG}")
    headers = {"Authorization": f"{settings['authorization_scheme']} {hook.token}"}
    path = f"/webhook/{hook.slug}"
    firing = await post(server, path, grafana_group("firing"), headers=headers)
    assert firing.status == 202 and firing.body["format"] == "grafana", firing.body
    assert firing.body["results"][0]["outcome"] == "created"
    resolved = await post(server, path, grafana_group("resolved"), headers=headers)
    assert resolved.body["results"][0]["outcome"] == "resolved"
