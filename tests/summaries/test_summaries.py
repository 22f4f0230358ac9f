"""Alert summaries: the built-in text, the provider path through a fake chat-completions server,
the fall-backs, the cache, and lists that never call the model per row."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gateway.domain.summaries import summarizer as summaries
from gateway.domain.summaries.summarizer import (
    AlertFacts,
    Summarizer,
    builtin_text,
    facts_of,
)
from gateway.service.chat_client import chat_url, summarizer_for
from tests.summaries.conftest import MODEL_TEXT, AlertCase, FakeProvider
from tests.support.server import Server

ONE = """query($id: ID!) { alert(id: $id) { summary { text generatedBy generatedAt } } }"""
LIST = """{ alerts(first: 50) { nodes { id summary { text generatedBy } } } }"""
NESTED = """query($id: ID!) { incident(id: $id) {
  alerts(first: 10) { nodes { id summary { text generatedBy } } } } }"""

FACTS = AlertFacts(
    title="HighCPUUsage", description="CPU above 90% on db-02", severity="high",
    status="firing", source="prometheus", labels={"host": "db-02", "job": "node"},
    occurrences=3, first_seen_at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
    last_seen_at=datetime(2026, 3, 1, 10, 20, tzinfo=UTC), incident_number=12,
    incident_title="CPU on db-02",
)


async def test_builtin_summary_names_host_severity_and_count(
    server: Server, disk_alerts: AlertCase
) -> None:
    alert = disk_alerts.alerts[0]
    body = await server.graphql(ONE, {"id": alert.id}, key=disk_alerts.key)
    summary = body["data"]["alert"]["summary"]
    assert summary["generatedBy"] == "builtin"
    text = summary["text"]
    assert "web-01" in text and "CRITICAL" in text and "7 times" in text
    assert "incident #1" in text and "Disk full" in text
    assert "service nginx" in text and "prometheus" in text
    assert "Check first: free space on the affected filesystem" in text  # what to check
    assert text == builtin_text(facts_of(alert, disk_alerts.incident))  # deterministic
    again = await server.graphql(ONE, {"id": alert.id}, key=disk_alerts.key)
    assert again["data"]["alert"]["summary"] == summary  # cached: same text and time


def test_builtin_text_is_deterministic_and_reads_well() -> None:
    text = builtin_text(FACTS)
    assert text == builtin_text(replace(FACTS))
    assert text.startswith("HIGH alert \u201cHighCPUUsage\u201d from prometheus is firing on "
                           "host db-02, job node.")
    assert "Seen 3 times between 2026-03-01 10:00 UTC and 2026-03-01 10:20 UTC." in text
    assert "Part of incident #12 \u201cCPU on db-02\u201d." in text
    assert "Check first: the top CPU consumers" in text
    lonely = builtin_text(replace(FACTS, labels={}, occurrences=1, incident_number=None,
                                  status="resolved", title="Something odd", description=None))
    assert "(no host or service label)" in lonely and "Seen once, at" in lonely
    assert "Not attached to an incident." in lonely and "has resolved" in lonely
    with_runbook = builtin_text(replace(FACTS, labels={"runbook_url": "https://rb/cpu"}))
    assert "runbook: https://rb/cpu" in with_runbook


def test_content_hash_follows_the_content() -> None:
    assert FACTS.content_hash() == replace(FACTS).content_hash()
    assert FACTS.content_hash() != replace(FACTS, occurrences=4).content_hash()
    assert FACTS.content_hash() != replace(FACTS, labels={"host": "db-03"}).content_hash()


def test_chat_url_takes_a_base_or_a_full_endpoint() -> None:
    assert chat_url("http://127.0.0.1:11434/v1") == "http://127.0.0.1:11434/v1/chat/completions"
    assert chat_url("https://api.example/v1/") == "https://api.example/v1/chat/completions"
    full = "http://llama:8080/v1/chat/completions"
    assert chat_url(full) == full


async def test_provider_writes_the_summary_of_a_single_alert(
    model_server: Server, provider: FakeProvider, disk_alerts: AlertCase
) -> None:
    alert = disk_alerts.alerts[0]
    body = await model_server.graphql(ONE, {"id": alert.id}, key=disk_alerts.key)
    summary = body["data"]["alert"]["summary"]
    assert summary["text"] == MODEL_TEXT
    assert summary["generatedBy"] == "model:test-model"

    assert len(provider.requests) == 1
    sent = provider.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["authorization"] == "Bearer sk-test-secret"
    assert sent["json"]["model"] == "test-model"
    assert sent["json"]["messages"][0]["role"] == "system"
    user = sent["json"]["messages"][1]["content"]
    assert "web-01" in user and "DiskWillFillIn4Hours" in user and '"occurrences": 7' in user
    assert "raw_payload" not in user  # only the alert's own fields and labels leave the gateway

    again = await model_server.graphql(ONE, {"id": alert.id}, key=disk_alerts.key)
    assert again["data"]["alert"]["summary"] == summary
    assert len(provider.requests) == 1  # cached per content


async def test_lists_never_call_the_model_per_row(
    model_server: Server, provider: FakeProvider, disk_alerts: AlertCase
) -> None:
    body = await model_server.graphql(LIST, key=disk_alerts.key)
    nodes = body["data"]["alerts"]["nodes"]
    assert len(nodes) == 3
    assert {n["summary"]["generatedBy"] for n in nodes} == {"builtin"}
    assert provider.requests == []

    first = disk_alerts.alerts[0].id
    await model_server.graphql(ONE, {"id": first}, key=disk_alerts.key)
    assert len(provider.requests) == 1

    for query, variables in ((LIST, None), (NESTED, {"id": disk_alerts.incident.id})):
        body = await model_server.graphql(query, variables, key=disk_alerts.key)
        data = body["data"]
        nodes = data["alerts"]["nodes"] if "alerts" in data else data["incident"]["alerts"]["nodes"]
        by_id = {n["id"]: n["summary"] for n in nodes}
        assert by_id[first] == {"text": MODEL_TEXT, "generatedBy": "model:test-model"}
        assert {s["generatedBy"] for i, s in by_id.items() if i != first} == {"builtin"}
    nodes_query = """query($ids: [ID!]!) {
      nodes(ids: $ids) { ... on Alert { summary { generatedBy } } } }"""
    ids = [a.id for a in disk_alerts.alerts]
    body = await model_server.graphql(nodes_query, {"ids": ids}, key=disk_alerts.key)
    assert [n["summary"]["generatedBy"] for n in body["data"]["nodes"]] == [
        "model:test-model", "builtin", "builtin",
    ]
    assert len(provider.requests) == 1


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("slow", "timeout"),
        ("not_json", "bad response"),
        ("no_choices", "bad response"),
        ("empty_content", "bad response"),
        ("http_500", "HTTP 500"),
    ],
)
async def test_falls_back_to_builtin_text(
    provider: FakeProvider, mode: str, reason: str
) -> None:
    provider.mode = mode
    summarizer = summarizer_for(url=provider.base_url, model="m", timeout=0.3)
    try:
        result = await summarizer.summarize(FACTS)
        assert result.generated_by == f"builtin (fallback: {reason})"
        assert result.text == builtin_text(FACTS)
        # The fall-back is remembered briefly: no second call for the same content.
        assert await summarizer.summarize(FACTS) == result
        assert len(provider.requests) == 1
        # Lists get the built-in text (the fall-back is not a model summary).
        listed = await summarizer.summarize(FACTS, allow_provider=False)
        assert listed.text == result.text
    finally:
        await summarizer.close()


async def test_fallback_through_graphql_when_the_provider_times_out(
    model_server: Server, provider: FakeProvider, disk_alerts: AlertCase
) -> None:
    provider.mode = "slow"
    loop = asyncio.get_running_loop()
    started = loop.time()
    body = await model_server.graphql(ONE, {"id": disk_alerts.alerts[0].id}, key=disk_alerts.key)
    assert loop.time() - started < 1.5  # the 0.5 s timeout, not the provider's 2 s
    summary = body["data"]["alert"]["summary"]
    assert summary["generatedBy"] == "builtin (fallback: timeout)"
    assert "web-01" in summary["text"] and "7 times" in summary["text"]


async def test_unreachable_provider_falls_back() -> None:
    summarizer = summarizer_for(url="http://127.0.0.1:9/v1", model="m", timeout=2)
    try:
        result = await summarizer.summarize(FACTS)
    finally:
        await summarizer.close()
    assert result.generated_by.startswith("builtin (fallback: unreachable")


async def test_concurrent_requests_share_one_call_and_the_cache_is_bounded(
    provider: FakeProvider,
) -> None:
    provider.mode = "slow"
    provider.delay = 0.1
    summarizer = summarizer_for(url=provider.base_url, model="m", timeout=2, cache_size=2)
    try:
        results = await asyncio.gather(*(summarizer.summarize(FACTS) for _ in range(5)))
        assert len(provider.requests) == 1
        assert {r.text for r in results} == {MODEL_TEXT}
        for n in range(3):
            await summarizer.summarize(replace(FACTS, occurrences=10 + n))
        assert len(summarizer.cache) == 2
    finally:
        await summarizer.close()


def test_without_a_provider_only_the_builtin_runs() -> None:
    summarizer = Summarizer()
    assert not summarizer.provider_enabled
    # A model is needed too.
    assert not summarizer_for(url="http://x/v1", model=None).provider_enabled
    result = asyncio.run(summarizer.summarize(FACTS))
    assert result.generated_by == summaries.BUILTIN
