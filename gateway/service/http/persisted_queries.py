"""Automatic persisted queries (APQ), the protocol Apollo clients speak.

A client that polls a dashboard sends the SHA-256 of its query instead of the query:
`{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<64 hex>"}}, "variables": ...}`
(POST body, or the same fields in a GET query string with `extensions` as JSON text). When
this process knows the hash it runs the stored document, which takes the executor's cached
parse, validation and execution plan like any repeated query. When it does not, the answer is
HTTP 200 with `PERSISTED_QUERY_NOT_FOUND` (Apollo's code and message), and the client sends the
query with the hash once; a query whose hash does not match is refused (400). Failures never
store anything.

Documents are kept per process and per calling workspace (the key's own), the most recently used
`max_entries` in all, each within the query size limit; after a restart, or on another worker, a
client simply registers again. Per workspace, because a shared store would tell one tenant
whether another had sent a given document (its hash would run at once instead of "not found").
"""

from __future__ import annotations

import hashlib
import string
from collections import OrderedDict
from typing import Any

from gateway.web.operations import OperationRefused

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
DEFAULT_MAX_ENTRIES = 1000


class PersistedQueryNotFound(Exception):
    """The hash is unknown here: the client resends it with the query (HTTP 200, by the
    protocol, so that Apollo's link retries instead of failing the operation)."""


class PersistedQueries:
    """(workspace, sha256 hex digest) -> GraphQL document, least recently used dropped first."""

    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, max_query_characters: int = 0
    ) -> None:
        self.max_entries = max_entries
        self.max_query_characters = max_query_characters  # 0: no limit of its own
        self._documents: OrderedDict[tuple[str, str], str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    def resolve(self, query: Any, extensions: Any, scope: str = "") -> Any:
        """The query to run: `query` itself when no persisted query is asked for, the stored
        document for a hash `scope` (the caller's workspace) registered, or `query` after
        checking and storing it under its hash."""
        if not isinstance(extensions, dict) or extensions.get("persistedQuery") is None:
            return query
        digest = _digest_of(extensions["persistedQuery"])
        if isinstance(query, str) and query:
            if hashlib.sha256(query.encode()).hexdigest() != digest:
                raise OperationRefused("provided sha does not match query", 400, "BAD_REQUEST")
            self._store((scope, digest), query)
            return query
        document = self._documents.get((scope, digest))
        if document is None:
            raise PersistedQueryNotFound(NOT_FOUND_MESSAGE)
        self._documents.move_to_end((scope, digest))
        return document

    def _store(self, key: tuple[str, str], query: str) -> None:
        if self.max_query_characters and len(query) > self.max_query_characters:
            return  # the executor refuses it anyway; never keep what cannot run
        self._documents[key] = query
        self._documents.move_to_end(key)
        while len(self._documents) > self.max_entries:
            self._documents.popitem(last=False)


def _digest_of(persisted: Any) -> str:
    if not isinstance(persisted, dict):
        raise OperationRefused(
            "`extensions.persistedQuery` must be an object with version and sha256Hash",
            400, "BAD_REQUEST",
        )
    if persisted.get("version") != 1:
        raise OperationRefused(
            "Unsupported persisted query version: only version 1 is served", 400, "BAD_REQUEST"
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64 or not _is_hex(digest):
        raise OperationRefused(
            "`extensions.persistedQuery.sha256Hash` must be 64 hexadecimal characters",
            400, "BAD_REQUEST",
        )
    return digest.lower()


def _is_hex(text: str) -> bool:
    return all(char in string.hexdigits for char in text)
