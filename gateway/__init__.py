"""Seliq gateway: the running service (settings, storage, domain services, auth, app, CLI)."""
