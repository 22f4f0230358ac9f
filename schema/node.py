"""The Relay `Node` interface. Every id is a prefixed opaque string (`inc_...`), which is also the
global id, so `node(id:)` picks the table from the prefix with no decoding.

Implemented by every type whose id the API prints: Workspace (`ws_`), Incident (`inc_`), Alert
(`alt_`), TimelineEvent (`evt_`), Note (`note_`), Report (`rpt_`), WebhookDelivery (`dlv_`) and
Viewer (`key_`, for the calling key only). `whk_` ids name webhook tokens, which are credentials
managed from the CLI, not objects of the graph: `node` answers null for them (docs/api.md)."""

from __future__ import annotations

import strawberry


@strawberry.interface(description="An object with a globally unique, prefixed id.")
class Node:
    id: strawberry.ID
