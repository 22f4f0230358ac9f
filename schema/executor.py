"""`GraphQLExecutor`: the one entry point the HTTP doors use to run an operation.

The gateway's /graphql handler receives it from the app factory typed as `gateway.operations.
Executor`, so the dependency arrows stay `rest_compat -> schema -> gateway`.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from gateway.auth import Principal
from gateway.db import Database
from gateway.operations import OperationRefused, Outcome
from schema.build import build_schema, result_to_json
from schema.context import make_context

QUERY_ONLY = frozenset({OperationType.QUERY})
ALL_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})


class GraphQLExecutor:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.schema = build_schema()

    async def run(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        principal: Principal,
        request_id: str,
        *,
        allow_mutations: bool = True,
    ) -> Outcome:
        context = make_context(self.db, principal, request_id)
        try:
            result = await self.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=operation_name,
                allowed_operation_types=ALL_OPERATIONS if allow_mutations else QUERY_ONLY,
            )
        except InvalidOperationTypeError as exc:
            kind = exc.operation_type.value
            raise OperationRefused(
                f"{kind}s are not allowed over GET; use POST", 405, "METHOD_NOT_ALLOWED"
            ) from None
        except CannotGetOperationTypeError:
            raise OperationRefused(
                "the document has several operations (or none by that name): "
                "send `operationName`",
                400,
                "GRAPHQL_VALIDATION_FAILED",
            ) from None
        except MissingQueryError:
            raise OperationRefused(
                "no GraphQL query in the request", 400, "BAD_REQUEST"
            ) from None
        body = result_to_json(result, context)
        not_executed = result.data is None and bool(result.errors) and all(
            isinstance(err, GraphQLError) and err.path is None and err.original_error is None
            for err in result.errors or []
        )
        return Outcome(body=body, not_executed=not_executed)
