"""What the suites share: the real server and its client (`server`), test data and the tenant
tree (`data`), SQLite/PostgreSQL backends (`backends`), external services (`services`: PostgreSQL,
Redis), the real executable (`procs`), metrics scraping (`metrics`), SLA helpers (`sla`) and a
graphql-transport-ws client (`wsclient`). Fixtures stay in tests/conftest.py."""
