"""Start-up checks: a document, row, shape or enum that does not fit the schema stops the gateway
with one clear line. Plus the reshaping conventions on their own."""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from graphql import build_schema as build_sdl

from gateway.domain.settings import Settings
from gateway.domain.storage import models
from gateway.domain.storage.engine import Database
from gateway.service.app import create_app
from rest_compat import RestSetupError, documents, route, setup_rest
from rest_compat.bodies import BodyField, JsonBody, RawBody, TextField
from rest_compat.documents import check_enums, check_shape, load_document
from rest_compat.errors import RestError
from rest_compat.handler import check_routes, graphql_schema_of
from rest_compat.params import path_param
from rest_compat.results import One
from rest_compat.route import Route
from rest_compat.routes import ROUTES
from rest_compat.shapes import (
    INCIDENT,
    REPORT,
    TIMELINE_EVENT_TYPE,
    Shape,
    text,
)
from schema.executor import GraphQLExecutor


def one_line(error: pytest.ExceptionInfo[RestSetupError]) -> str:
    message = str(error.value)
    assert "\n" not in message and message.startswith("rest_compat: "), message
    return message


def test_the_table_fits_the_schema(db: Database) -> None:
    executor = GraphQLExecutor(db)
    loaded = check_routes(ROUTES, graphql_schema_of(executor))
    assert len(loaded) == len(ROUTES)
    assert len({(r.method, r.path) for r in ROUTES}) == len(ROUTES)


def test_gateway_refuses_to_start_with_a_bad_document(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = route.load_document

    def drifted(stem: str) -> documents.Document:
        document = real(stem)
        if stem == "GetIncident":
            source = document.source.replace("alertCount", "alertTotal")
            return dataclasses.replace(document, source=source)
        return document

    monkeypatch.setattr(route, "load_document", drifted)
    with pytest.raises(RestSetupError) as error:
        create_app(settings, db=db)
    message = one_line(error)
    assert "operations/GetIncident.graphql does not validate" in message
    assert "alertTotal" in message and "line" in message


def test_syntax_error_names_the_file(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "_read", lambda file: "query Broken { incident(id: ) { id } }")
    result = One(("incident",), INCIDENT, "x")
    row = Route("GET", "/v1/broken", "BrokenSyntaxForTest", result=result)
    with pytest.raises(RestSetupError) as error:
        setup_rest(web.Application(), db=db, executor=GraphQLExecutor(db), routes=(row,))
    assert "operations/BrokenSyntaxForTest.graphql" in one_line(error)


@pytest.mark.parametrize(
    ("row", "says"),
    [
        (
            Route("POST", "/v1/x/{id}", "GetIncident", params=(path_param("id", "id", ""),),
                  result=One(("incident",), INCIDENT, "incident")),
            "a POST route runs a mutation",
        ),
        (
            Route("GET", "/v1/x/{id}", "GetIncident",
                  params=(path_param("id", "incidentId", ""),),
                  result=One(("incident",), INCIDENT, "incident")),
            "sets $incidentId, which is not declared",
        ),
        (
            Route("GET", "/v1/x", "GetIncident", result=One(("incident",), INCIDENT, "incident")),
            "nothing always provides the required $id",
        ),
        (
            Route("GET", "/v1/x/{id}", "GetIncident", params=(path_param("id", "id", ""),),
                  result=One(("incident",), REPORT, "report")),
            "reads RestReport, never spread",
        ),
        (
            Route("PATCH", "/v1/x/{id}", "UpdateIncident",
                  params=(path_param("id", "input.id", ""),),
                  body=JsonBody((BodyField("note", TextField(), "note"),)),
                  result=One(("updateIncident", "incident"), INCIDENT, "incident")),
            "`note` sets $note, which is not declared",
        ),
    ],
)
def test_rows_that_do_not_fit_their_document(db: Database, row: Route, says: str) -> None:
    with pytest.raises(RestSetupError) as error:
        check_routes((row,), graphql_schema_of(GraphQLExecutor(db)))
    assert says in one_line(error)


def test_shape_reading_what_its_fragment_does_not_select() -> None:
    shape = Shape("Incident", "RestIncident", (text("id"), text("priority")))
    with pytest.raises(RestSetupError) as error:
        check_shape(shape)
    assert "reads `priority` but fragment RestIncident does not select it" in one_line(error)
    for route_ in ROUTES:
        for shape in route_.result.shapes:
            check_shape(shape)


def test_enum_drift() -> None:
    sdl = build_sdl(
        """
        enum IncidentStatus { TRIGGERED ACKNOWLEDGED RESOLVED SNOOZED }
        type Query { x: Int }
        """
    )
    with pytest.raises(RestSetupError) as error:
        check_enums(sdl)
    message = one_line(error)
    assert "IncidentStatus" in message and "SNOOZED" in message


def test_executor_without_a_schema(db: Database) -> None:
    class Bare:
        async def run(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError

    with pytest.raises(RestSetupError):
        setup_rest(web.Application(), db=db, executor=Bare())


def test_documents_are_loaded_once() -> None:
    assert load_document("ListIncidents") is load_document("ListIncidents")
    document = load_document("ListIncidents")
    assert document.name == "RestListIncidents" and not document.is_mutation
    assert document.fragments == {"RestIncident"}
    assert document.variables == {"filter": False, "first": False, "after": False}


def test_timeline_types_are_dotted() -> None:
    for value in models.EVENT_TYPES:
        graphql_name = value.upper().replace(".", "_")
        assert TIMELINE_EVENT_TYPE.to_rest[graphql_name] == value
    assert TIMELINE_EVENT_TYPE.to_rest["STATUS_CHANGED"] == "status.changed"


def test_reshape() -> None:
    node = {
        "id": "inc_1", "workspace": {"id": "ws_1"}, "number": 7, "title": "t",
        "status": "ACKNOWLEDGED", "severity": "CRITICAL", "assignee": None, "alertCount": 2,
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z",
        "acknowledgedAt": None, "resolvedAt": None,
    }
    assert INCIDENT.reshape(node) == {
        "id": "inc_1", "workspace_id": "ws_1", "number": 7, "title": "t",
        "status": "acknowledged", "severity": "critical", "assignee": None, "alert_count": 2,
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z",
        "acknowledged_at": None, "resolved_at": None,
    }


async def test_raw_body_passes_the_text_through() -> None:
    """The body kind a `POST /v1/alerts` row uses: the text as received, parsed by the schema."""
    spec = RawBody("input.rawBody")

    async def handler(request: web.Request) -> web.Response:
        variables: dict[str, Any] = {}
        try:
            await spec.bind(request, variables)
        except RestError as exc:
            return exc.response(request)
        return web.json_response(variables)

    app = web.Application()
    app.router.add_post("/", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            url = str(server.make_url("/"))
            async with http.post(url, data=b'{"title": "x"}') as response:
                assert await response.json() == {"input": {"rawBody": '{"title": "x"}'}}
            async with http.post(url, data=b"\xff\xfe") as response:
                assert response.status == 400
    finally:
        await server.close()
