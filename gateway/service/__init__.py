"""The top layer: composes and serves the gateway (app factory, HTTP and WebSocket handlers,
middleware, CLI, process supervision, observability, GraphiQL). Nothing imports this package
but its own modules and the tests."""
