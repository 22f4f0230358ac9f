"""REST cursors: `<microseconds since 0002-01-01>.<id>`, the position after a row in a list.

GraphQL's cursors (gateway/domain/pagination.py) are base64url text of a JSON pair, which no
regular expression of reasonable size describes exactly: `cursor=AAAA` would be valid by any
pattern the document could state, yet not a cursor. The REST layer therefore speaks a form whose
pattern (`patterns.cursor_pattern`) admits exactly the cursors it accepts: any number in range
and any id of the list's kind is a position in the list (keyset pagination needs no row to
exist there), so every string the pattern matches is a cursor, and nothing else is. Every REST
list is ordered by a time and then by id, which is what the pair holds; each is translated to
and from GraphQL's cursor at the door.
"""

from __future__ import annotations

import re
from datetime import datetime

from gateway.domain.pagination import decode_cursor, encode_cursor
from gateway.domain.timeutil import EARLIEST
from rest_compat.patterns import MICROSECOND, cursor_pattern


class CursorCodec:
    """The cursors of one list, whose rows have ids starting `prefix_`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.pattern = cursor_pattern(prefix)
        self._regex = re.compile(self.pattern)

    def to_graphql(self, cursor: str) -> str:
        """The GraphQL cursor of a REST one; ValueError when `cursor` is not one."""
        if not self._regex.fullmatch(cursor):
            raise ValueError(
                f"is not a cursor of this list: pass `pagination.next_cursor` of the previous "
                f"page as it came (`<number>.{self.prefix}_...`)"
            )
        micros, _, row_id = cursor.partition(".")
        at: datetime = EARLIEST + int(micros) * MICROSECOND
        return encode_cursor(at, row_id)

    @staticmethod
    def from_graphql(cursor: str) -> str:
        """The REST cursor of a GraphQL one (a time-ordered list's)."""
        at, row_id = decode_cursor(cursor, is_datetime=True)
        return f"{(at - EARLIEST) // MICROSECOND}.{row_id}"
