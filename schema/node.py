"""The Relay `Node` interface. Every id is a prefixed opaque string (`inc_...`), which is also the
global id, so `node(id:)` picks the table from the prefix with no decoding."""

from __future__ import annotations

import strawberry


@strawberry.interface(description="An object with a globally unique, prefixed id.")
class Node:
    id: strawberry.ID
