"""Request plumbing shared by the doors (the GraphQL handler, the REST rows, the webhook): JSON
bodies and error bodies, request ids, the caller's principal, the executor interface. Knows
aiohttp, not the schema."""
