"""HTTP plumbing of the gateway: middleware, the GraphQL-over-HTTP handler, health checks."""
