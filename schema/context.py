"""The per-request context every resolver receives: who is calling, the database, the loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

from strawberry.types import Info as StrawberryInfo

from gateway.domain.errors import Forbidden
from gateway.domain.ratelimit.local import Decision
from gateway.domain.storage.engine import Database
from gateway.domain.summaries.summarizer import Summarizer, default_summarizer
from gateway.domain.tenancy.auth import Principal
from schema.loaders import Loaders


@dataclass
class Context:
    db: Database
    principal: Principal
    request_id: str
    loaders: Loaders
    # Values resolvers hand back to the HTTP layer (e.g. the REST layer reads `status_hint`).
    response_meta: dict[str, Any] = field(default_factory=dict)
    # Writes `Alert.summary` (built-in, or the configured model with a fall-back).
    summarizer: Summarizer = field(default_factory=default_summarizer)
    # This request's rate-limit decision (set before execution; read by `Query.rateLimit`).
    rate_limit: Decision | None = None

    @property
    def workspace_id(self) -> str:
        """The workspace this request acts on (X-Workspace-ID, default the key's own)."""
        return self.principal.acting_workspace_id

    def require_write(self) -> None:
        if not self.principal.can_write:
            raise Forbidden("this API key has the read scope and cannot change data")


def make_context(
    db: Database, principal: Principal, request_id: str, summarizer: Summarizer | None = None
) -> Context:
    return Context(
        db=db, principal=principal, request_id=request_id, loaders=Loaders(db, principal),
        summarizer=summarizer or default_summarizer(),
    )


Info: TypeAlias = StrawberryInfo[Context, None]
