"""T10's plumbing (`python -m bench --peer`): which runs measure it, the skip reason where Node 22
cannot be had, and that both servers' answers are read the same way. The measurement itself
runs PostGraphile from npm and is left out of CI, as the read-path issue asks."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import orjson
import pytest
from graphql import OperationDefinitionNode, parse

from bench import peer
from bench.queries import DASHBOARD
from bench.report import ORDER, PEER_ONLY
from bench.run import selection
from gateway.domain.events.brokers import asyncpg_dsn


def test_t10_is_measured_only_with_peer() -> None:
    assert not set(PEER_ONLY) & set(selection(None, quick=False, peer=False))
    assert not set(PEER_ONLY) & set(selection(None, quick=True, peer=False))
    assert selection(None, quick=False, peer=True)[-len(PEER_ONLY):] == PEER_ONLY
    assert selection("t10b", quick=False, peer=False) == ("T10b",)
    assert selection("T1", quick=False, peer=True) == ("T1", *PEER_ONLY)
    assert set(selection(None, quick=False, peer=True)) == set(ORDER)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="npm's Node 22 is for x86_64 only")
def test_without_npm_t10_is_skipped_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(peer, "STAMP", tmp_path / "never-installed")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(peer.PeerUnavailable, match="npm is not installed"):
        peer.install()


def test_both_dashboards_are_read_as_the_same_rows() -> None:
    ours = {"data": {"incidents": {"pageInfo": {}, "nodes": [
        {"id": "inc_1", "alerts": {"nodes": [{"id": "alt_1"}]},
         "timeline": {"nodes": [{"id": "evt_1"}, {"id": "evt_2"}]}},
    ]}}}
    theirs = {"data": {"allIncidents": {"pageInfo": {}, "nodes": [
        {"rowId": "inc_1", "alertsByIncidentId": {"nodes": [{"rowId": "alt_1"}]},
         "timelineEventsByIncidentId": {"nodes": [{"rowId": "evt_1"}, {"rowId": "evt_2"}]}},
    ]}}}
    assert peer.dashboard_ids(orjson.dumps(ours)) == peer.dashboard_ids(orjson.dumps(theirs)) \
        == ["inc_1", ["alt_1"], ["evt_1", "evt_2"]]
    mine = {"data": {"incident": {"id": "inc_1", "number": 7, "status": "TRIGGERED"}}}
    other = {"data": {"incidentByRowId": {"rowId": "inc_1", "number": 7, "status": "triggered"}}}
    assert peer.incident_fields(orjson.dumps(mine)) == peer.incident_fields(orjson.dumps(other))


def test_node_postgres_gets_a_libpq_url() -> None:
    assert asyncpg_dsn("postgresql+asyncpg://postgres@127.0.0.1:5432/seliq_bench_peer_1") \
        == "postgresql://postgres@127.0.0.1:5432/seliq_bench_peer_1"


# Our names -> PostGraphile's (Amber preset), for the fields the two dashboards select.
PEER_NAMES = {"incidents": "allIncidents", "id": "rowId", "alerts": "alertsByIncidentId",
              "timeline": "timelineEventsByIncidentId"}


def _fields(selection_set: Any) -> list[Any]:
    """The fields a selection selects, by name, with what each selects in turn."""
    return [
        (node.name.value, _fields(node.selection_set) if node.selection_set else None)
        for node in selection_set.selections
    ]


def _renamed(fields: list[Any]) -> list[Any]:
    return [(PEER_NAMES.get(name, name), _renamed(inner) if inner else None)
            for name, inner in fields]


def test_postgraphile_gets_the_dashboards_fields() -> None:
    """The PostGraphile dashboard is written by hand in its naming: it must select what the
    bench dashboard selects, field for field (the bench checks the rows when it runs)."""
    ours = parse(DASHBOARD).definitions[0]
    theirs = parse(peer.PEER_DASHBOARD).definitions[0]
    assert isinstance(ours, OperationDefinitionNode)
    assert isinstance(theirs, OperationDefinitionNode)
    assert _renamed(_fields(ours.selection_set)) == _fields(theirs.selection_set)
