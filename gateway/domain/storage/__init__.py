"""Storage: the engine and its sessions, the SQLite driver, group commit, row helpers, the
SQLModel tables, Alembic migrations and the SQLite-to-PostgreSQL copy."""
