"""What ingestion answers: one `AlertResult` per alert (the row, its incident, the outcome) and the
`IngestResult` of a request, which is also what an idempotent retry replays and what the webhook's
delivery log records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.domain.storage import direct
from gateway.domain.storage.models import Alert, Incident


@dataclass
class AlertResult:
    alert: Alert
    incident: Incident | None
    outcome: str


@dataclass
class IngestResult:
    format: str
    results: list[AlertResult] = field(default_factory=list)
    # True when this is the stored first answer to an earlier request with the same
    # idempotency key (nothing was written this time).
    replayed: bool = False

    @property
    def deduplicated(self) -> bool:
        """Every alert was folded into an existing firing alert (REST: 200 instead of 201)."""
        return bool(self.results) and all(r.outcome == "deduplicated" for r in self.results)

    @property
    def http_status(self) -> int:
        return 200 if self.deduplicated else 201

    def incident_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for item in self.results:
            if item.incident is not None:
                seen.setdefault(item.incident.id, None)
        return list(seen)

    def frozen(self) -> IngestResult:
        """This answer with its rows copied as they are now. A request of a group is answered
        after the whole group committed, and a later request of the group may change the same
        alert or incident (a repeat, another alert joining): the copy keeps what this request
        made of them, which is what it would be told alone."""
        copies: dict[int, Any] = {}

        def copy(row: Any) -> Any:
            if id(row) not in copies:
                copies[id(row)] = direct.copy_row(row)
            return copies[id(row)]

        return IngestResult(
            format=self.format,
            results=[
                AlertResult(copy(item.alert), copy(item.incident) if item.incident else None,
                            item.outcome)
                for item in self.results
            ],
            replayed=self.replayed,
        )

    def snapshot(self) -> dict[str, Any]:
        """The answer as JSON, to replay it for a retry with the same idempotency key."""
        return {
            "format": self.format,
            "results": [
                {
                    "outcome": item.outcome,
                    "alert": item.alert.model_dump(mode="json"),
                    "incident": item.incident.model_dump(mode="json") if item.incident else None,
                }
                for item in self.results
            ],
        }

    @classmethod
    def from_snapshot(cls, body: dict[str, Any]) -> IngestResult:
        return cls(
            format=body["format"],
            results=[
                AlertResult(
                    alert=Alert.model_validate(item["alert"]),
                    incident=Incident.model_validate(item["incident"])
                    if item["incident"]
                    else None,
                    outcome=item["outcome"],
                )
                for item in body["results"]
            ],
            replayed=True,
        )
