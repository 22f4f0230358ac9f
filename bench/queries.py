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


# ---- T9: what a real SOC dashboard sends ---------------------------------------------------------
# Each is timed against the bench dashboard (`DASHBOARD`) at the same page size. They are also
# the documented dashboard examples that must never leave the cached plans
# (tests/graphql/test_plan_coverage.py), and docs/performance.md lists them.

INCIDENT_ROW = """fragment IncidentRow on Incident {
  id number title status severity assignee alertCount createdAt updatedAt
}
"""

TRIAGE = """query TriageQueue($first: Int!, $withSla: Boolean! = true) {
  incidents(first: $first,
            filter: {status: [TRIGGERED, ACKNOWLEDGED], severity: [CRITICAL, HIGH]}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      ...IncidentRow
      sla @include(if: $withSla) { ackDueAt resolveDueAt ackBreached resolveBreached }
      alerts(first: 5) { nodes { id title severity status source receivedAt } }
    }
  }
}
""" + INCIDENT_ROW

MY_QUEUE = """query MyQueue($first: Int!, $assignee: String!) {
  incidents(first: $first, filter: {assignee: $assignee, status: [TRIGGERED, ACKNOWLEDGED]},
            orderBy: {field: UPDATED_AT, direction: DESC}) {
    pageInfo { hasNextPage endCursor }
    nodes {
      ...IncidentRow
      timeline(last: 3) { nodes { type at actor message } }
    }
  }
}
""" + INCIDENT_ROW

SEARCH = """query Search($first: Int!, $text: String!) {
  incidents(first: $first, filter: {query: $text}) {
    totalCount
    nodes {
      ...IncidentRow
      alerts(first: 3) { nodes { id title source } }
    }
  }
}
""" + INCIDENT_ROW

RECENTLY_UPDATED = """query RecentlyUpdated($first: Int!) {
  incidents(first: $first, orderBy: {field: UPDATED_AT, direction: DESC}) {
    nodes {
      ...IncidentRow
      workspace { id slug name tier }
      sla {
        ackDueAt resolveDueAt ackBreached resolveBreached ackTargetSeconds resolveTargetSeconds
      }
      alerts(first: 5) { totalCount nodes { id title severity status source receivedAt } }
    }
  }
}
""" + INCIDENT_ROW

INCIDENT_DETAIL = """query IncidentDetail($id: ID!) {
  incident(id: $id) {
    ...IncidentRow
    acknowledgedAt resolvedAt
    workspace {
      id name
      slaPolicy { isDefault targets { severity ackSeconds resolveSeconds } }
    }
    sla { ackDueAt resolveDueAt ackBreached resolveBreached }
    alerts(first: 20) {
      totalCount
      nodes {
        id title description severity status source fingerprint labels occurrences
        firstSeenAt lastSeenAt
        summary { text generatedBy generatedAt }
      }
    }
    notes(first: 20) { totalCount nodes { id body author createdAt } }
    timeline(first: 50) {
      pageInfo { hasNextPage endCursor }
      nodes { id type at actor message data }
    }
  }
}
""" + INCIDENT_ROW

MSSP_OVERVIEW = """query MsspOverview($first: Int!) {
  workspaces(first: 20) {
    totalCount
    nodes {
      id slug name tier
      parent { id }
      incidents(first: $first, filter: {status: [TRIGGERED, ACKNOWLEDGED]}) {
        totalCount
        nodes { id number title severity status assignee createdAt }
      }
      slaSummary { incidentsOpen ackBreaches resolveBreaches compliance }
    }
  }
}
"""

NEXT_PAGE = DASHBOARD.replace("query Dashboard($first: Int!)",
                              "query DashboardNextPage($first: Int!, $after: String)").replace(
    "incidents(first: $first)", "incidents(first: $first, after: $after)"
)

ALERT_FEED = """query AlertFeed($first: Int!) {
  alerts(first: $first, filter: {status: [FIRING], severity: [CRITICAL, HIGH]}) {
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id title severity status source occurrences receivedAt labels
        incident { id number title status assignee }
      }
    }
  }
}
"""

REST_FILTERED = "/v1/incidents?status=triggered,acknowledged&severity=critical,high&limit={first}"


@dataclass(frozen=True)
class Example:
    """One operation of the T9 suite: a GraphQL document (its operation name is `name`) or a
    REST path. `needs` names the variables taken from the data at run time: `id` (an incident
    of the acting workspace), `after` (the dashboard's end cursor), `assignee` (an analyst with
    open incidents)."""

    name: str
    query: str | None = None
    variables: tuple[tuple[str, Any], ...] = ()
    rest_path: str | None = None
    needs: tuple[str, ...] = ()

    def request(self, key: str, first: int, found: dict[str, Any]) -> Request:
        if self.rest_path is not None:
            return rest_request(key, self.rest_path.format(first=first))
        assert self.query is not None
        variables: dict[str, Any] = {"first": first} if "$first" in self.query else {}
        variables.update(self.variables)
        variables.update((need, found[need]) for need in self.needs)
        return graphql_request(f"graphql {self.name}", key, self.query, variables, self.name)


DASHBOARD_EXAMPLES: tuple[Example, ...] = (
    Example("TriageQueue", TRIAGE),
    Example("MyQueue", MY_QUEUE, needs=("assignee",)),
    Example("Search", SEARCH, (("text", "disk"),)),
    Example("RecentlyUpdated", RECENTLY_UPDATED),
    Example("IncidentDetail", INCIDENT_DETAIL, needs=("id",)),
    Example("MsspOverview", MSSP_OVERVIEW),
    Example("DashboardNextPage", NEXT_PAGE, needs=("after",)),
    Example("AlertFeed", ALERT_FEED),
    Example("RestIncidentsFiltered", rest_path=REST_FILTERED),
)
