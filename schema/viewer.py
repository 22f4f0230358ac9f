"""GraphQL `Viewer`: the calling API key and the workspaces it acts for."""

from __future__ import annotations

import strawberry

from gateway.domain.tenancy.auth import Principal
from schema.context import Info
from schema.enums import KeyScope
from schema.node import Node
from schema.workspaces import Workspace


@strawberry.type(
    description="The API key making this request. Its id (`key_...`) resolves with `node(id:)` "
    "for that key only: one key never reads another."
)
class Viewer(Node):
    id: strawberry.ID
    name: str
    scope: KeyScope
    own_workspace_id: strawberry.Private[str]
    acting_workspace_id: strawberry.Private[str]

    @classmethod
    def of(cls, principal: Principal) -> Viewer:
        return cls(
            id=strawberry.ID(principal.key_id),
            name=principal.key_name,
            scope=KeyScope(principal.scope),
            own_workspace_id=principal.own_workspace_id,
            acting_workspace_id=principal.acting_workspace_id,
        )

    @strawberry.field(description="The workspace the key belongs to.")
    async def workspace(self, info: Info) -> Workspace:
        return await _workspace(info, self.own_workspace_id)

    @strawberry.field(description="The workspace this request acts on (X-Workspace-ID).")
    async def acting_workspace(self, info: Info) -> Workspace:
        return await _workspace(info, self.acting_workspace_id)


async def _workspace(info: Info, workspace_id: str) -> Workspace:
    row = await info.context.loaders.workspace.load(workspace_id)
    assert row is not None
    return Workspace.from_row(row)
