"""Seliq gateway: the running service, in two layers.

- `gateway.service`: what composes and serves (app factory, HTTP and WebSocket handlers,
  middleware, CLI, process supervision, observability, GraphiQL). The only code that imports
  `schema` and `rest_compat`.
- `gateway.web`: request plumbing the doors share (JSON bodies and errors, request ids, the
  caller's principal, the executor interface); aiohttp, but no schema.
- `gateway.domain`: the domain and storage, one folder per concern; imports neither aiohttp nor
  strawberry, so resolvers, REST rows and background workers all call the same functions.

`make lint` enforces the direction with import-linter (see `docs/architecture.md`)."""
