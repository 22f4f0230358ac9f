"""What the access log and the metrics say about a request that the doors learn while handling
it: the GraphQL operation's name (a label) and the query cost the executor reported."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from graphql import GraphQLError
from graphql.language import Lexer, Source, TokenKind

#: The GraphQL operation name of this request (set by the /graphql handler, or by the REST layer
#: to the operation its route runs), for metrics and the access log.
OPERATION_KEY = web.RequestKey("graphql_operation", str)
#: The query cost the executor reported, for the access log.
COST_KEY = web.RequestKey("query_cost", int)

ANONYMOUS = "<anonymous>"
INVALID = "<invalid>"

_NAME_RE = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,127}$")
_MAX_TOKENS = 4000


def graphql_operation_label(query: str, operation_name: str | None) -> str:
    """The operation name of a GraphQL request, for metrics and logs.

    The client's `operationName` if it is a valid GraphQL name; otherwise the name of the first
    operation in the document, found by lexing only up to it (cheap: no parse), `<anonymous>` for
    an unnamed one, `<invalid>` when the document has no operation or does not lex.
    """
    if operation_name:
        return operation_name if _NAME_RE.match(operation_name) else INVALID
    try:
        lexer = Lexer(Source(query))
        braces = parens = 0
        fragment = False  # a `fragment` definition started; its `{` is not a shorthand query
        for _ in range(_MAX_TOKENS):
            token = lexer.advance()
            kind = token.kind
            if kind == TokenKind.EOF:
                return INVALID
            if kind == TokenKind.PAREN_L:
                parens += 1
            elif kind == TokenKind.PAREN_R:
                parens -= 1
            elif kind == TokenKind.BRACE_L and parens == 0:
                if braces == 0:
                    if not fragment:
                        return ANONYMOUS  # `{ ... }` shorthand query
                    fragment = False
                braces += 1
            elif kind == TokenKind.BRACE_R and parens == 0:
                braces -= 1
            elif kind == TokenKind.NAME and braces == 0 and parens == 0:
                if fragment or token.value == "fragment":
                    fragment = True  # names in a fragment's header are not keywords
                    continue
                if token.value not in ("query", "mutation", "subscription"):
                    continue
                following = lexer.lookahead()
                if following.kind == TokenKind.NAME and following.value:
                    return following.value[:128]
                return ANONYMOUS
    except GraphQLError:
        return INVALID
    return INVALID


def note_query_cost(request: web.Request, body: dict[str, Any]) -> None:
    """Keep the cost the executor reported (`extensions.cost.requestedQueryCost`) for the log."""
    extensions = body.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    value = cost.get("requestedQueryCost") if isinstance(cost, dict) else None
    if isinstance(value, int):
        request[COST_KEY] = value
