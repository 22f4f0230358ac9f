"""GraphQL `AlertSummary` and the resolver behind `Alert.summary`.

Only an alert fetched on its own (`alert(id:)`, `node(id:)`) may call the configured model; an
alert inside any list (`alerts`, `nodes`, an incident's alerts) gets the cached model summary or
the built-in text, so a list never makes one model call per row. See
`gateway.domain.summaries.summarizer`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import strawberry

from gateway.domain.summaries import summarizer as summaries
from schema.context import Info

if TYPE_CHECKING:
    from schema.alerts import Alert


@strawberry.type(description="A short explanation of an alert for the analyst on call.")
class AlertSummary:
    text: str
    generated_by: str = strawberry.field(
        description="`builtin`, `model:<name>`, or `builtin (fallback: <reason>)` when the "
        "configured model could not answer."
    )
    generated_at: datetime


def in_list(info: Info) -> bool:
    """True when the field is resolved inside a list (its path has an index in it)."""
    return any(isinstance(key, int) for key in info.path.as_list())


def may_call_model(info: Info) -> bool:
    """Only a single alert read by a query calls the model: never a row of a list, and never a
    mutation's payload (its write has committed; a slow model must not turn it into a timeout)."""
    return not in_list(info) and info.operation.operation.value == "query"


async def alert_summary(info: Info, alert: Alert) -> AlertSummary:
    incident = None
    if alert.incident_id is not None:
        incident = await info.context.loaders.incident.load((alert.workspace_id, alert.incident_id))
    return await summary_of(info.context.summarizer, alert, incident, may_call_model(info))


async def summary_of(
    summarizer: summaries.Summarizer, alert: Any, incident: Any | None, allow_provider: bool
) -> AlertSummary:
    """`Alert.summary` of an alert row (or anything with its attributes) and its incident row
    (the cached plans in schema/plan call it too)."""
    facts = summaries.facts_of(alert, incident)
    result = await summarizer.summarize(facts, allow_provider=allow_provider)
    return AlertSummary(
        text=result.text, generated_by=result.generated_by, generated_at=result.generated_at
    )
