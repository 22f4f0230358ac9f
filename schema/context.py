"""The per-request context every resolver receives: who is calling, the database, the loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

from strawberry.types import Info as StrawberryInfo

from gateway.auth import Principal
from gateway.db import Database
from gateway.errors import Forbidden
from schema.loaders import Loaders


@dataclass
class Context:
    db: Database
    principal: Principal
    request_id: str
    loaders: Loaders
    # Values resolvers hand back to the HTTP layer (e.g. the REST layer reads `status_hint`).
    response_meta: dict[str, Any] = field(default_factory=dict)

    @property
    def workspace_id(self) -> str:
        """The workspace this request acts on (X-Workspace-ID, default the key's own)."""
        return self.principal.acting_workspace_id

    def require_write(self) -> None:
        if not self.principal.can_write:
            raise Forbidden("this API key has the read scope and cannot change data")


def make_context(db: Database, principal: Principal, request_id: str) -> Context:
    return Context(db=db, principal=principal, request_id=request_id, loaders=Loaders(db, principal))


Info: TypeAlias = StrawberryInfo[Context, None]
