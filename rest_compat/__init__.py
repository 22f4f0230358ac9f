"""The v1 REST compatibility layer: each route is a row of one table (`rest_compat.routes`) that
runs a GraphQL operation in-process; `setup_rest` checks the table against the schema and serves
it, with `/v1/openapi.json` generated from the same rows."""

from rest_compat.documents import RestSetupError
from rest_compat.handler import setup_rest

__all__ = ["RestSetupError", "setup_rest"]
