"""The Strawberry schema: types, queries, mutations, dataloaders. Resolvers stay thin and call
`gateway` services; nothing here knows about HTTP."""

from schema.build import build_schema

__all__ = ["build_schema"]
