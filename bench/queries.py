"""What the benchmark sends: the dashboard query, the REST route and the GraphQL operation that
route translates to, plus the list pages of T7. Each is a ready-to-send HTTP request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

# The dashboard a frontend polls: a page of incidents, each with its newest alerts, alert count,
# assignee and its last three timeline events.
DASHBOARD = """query Dashboard($first: Int!) {
  incidents(first: $first) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id number title status severity assignee alertCount createdAt updatedAt
      alerts(first: 5) { nodes { id title severity status source receivedAt } }
      timeline(last: 3) { nodes { id type at actor message } }
    }
  }
}
"""
DASHBOARD_NAME = "Dashboard"
DASHBOARD_ALERTS = 5
DASHBOARD_EVENTS = 3

REST_LIST_INCIDENTS = "/v1/incidents?limit=50"


def dashboard_cost(first: int) -> dict[str, int]:
    """`extensions.cost` of the dashboard query, by GitHub's method (schema/limits.py): one
    request for the incident list plus one per incident for each nested connection, divided by
    100 and rounded; nodes are the page sizes multiplied down the query."""
    requests = 1 + 2 * first
    return {
        "requestedQueryCost": max(1, round(requests / 100)),
        "estimatedNodes": first * (1 + DASHBOARD_ALERTS + DASHBOARD_EVENTS),
    }


def rest_operation() -> tuple[str, str]:
    """The document and operation name `GET /v1/incidents` runs (ListIncidents + fragments)."""
    from rest_compat.documents import load_document

    document = load_document("ListIncidents")
    return document.source, document.name


@dataclass(frozen=True)
class Request:
    """One HTTP request, pre-encoded for the load generator."""

    label: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def encode(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def auth_headers(key: str) -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {key}"),)


def graphql_request(
    label: str, key: str, query: str, variables: dict[str, Any], operation_name: str | None
) -> Request:
    body = orjson.dumps(
        {"query": query, "variables": variables, "operationName": operation_name}
    )
    headers = (*auth_headers(key), ("Content-Type", "application/json"))
    return Request(label, "POST", "/graphql", headers, body)


def dashboard_request(key: str, first: int) -> Request:
    return graphql_request(
        f"graphql dashboard first:{first}", key, DASHBOARD, {"first": first}, DASHBOARD_NAME
    )


def reference_dashboard_request(key: str, first: int) -> Request:
    """The same POST body, sent to the reference server (which reads only `variables.first`)."""
    request = dashboard_request(key, first)
    return Request(f"reference dashboard first:{first}", "POST", "/dashboard",
                   request.headers, request.body)


def rest_request(key: str, path: str = REST_LIST_INCIDENTS) -> Request:
    return Request(f"REST GET {path}", "GET", path, auth_headers(key))


def rest_as_graphql_request(key: str, limit: int = 50, after: str | None = None) -> Request:
    source, name = rest_operation()
    variables: dict[str, Any] = {"first": limit}
    if after is not None:
        variables["after"] = after
    return graphql_request(f"graphql {name} first:{limit}", key, source, variables, name)
