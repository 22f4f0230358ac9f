"""Tenancy: workspaces and their hierarchy, API keys and principals, webhook tokens."""
