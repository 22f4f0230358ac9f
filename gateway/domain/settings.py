"""Settings: command-line flags win over `SELIQ_*` environment variables, which win over defaults.

pydantic-settings does the environment parsing and validation so that a bad value is reported as
one clear line (see `load_settings`) instead of a traceback deep inside start-up.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A setting has a value the gateway cannot start with; the message is one line for humans."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SELIQ_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./seliq.db"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    graphiql: bool = True
    # Adds X-Seliq-SQL-Statements to responses: tests and benchmarks count statements with it.
    debug_headers: bool = False
    log_level: str = "INFO"
    # Adds a `workspace` label to the metrics at /metrics (one series per workspace: opt-in).
    metrics_per_workspace: bool = False
    # Webhook deliveries per minute per workspace (its own bucket, apart from API calls).
    webhook_rate_limit: int = Field(600, ge=1)
    # Browser origins allowed to call the API (CORS, and WebSocket Origin checks), comma-separated;
    # none by default.
    cors_origins: str = ""
    # GraphQL query limits, checked before execution (docs/api.md, "Rate limits and query limits").
    query_max_depth: int = Field(10, ge=1)
    query_max_aliases: int = Field(15, ge=0)
    query_max_tokens: int = Field(2000, ge=10)
    query_max_characters: int = Field(15_000, ge=100)
    query_max_directives: int = Field(50, ge=0)
    query_max_root_fields: int = Field(20, ge=1)
    query_max_nodes: int = Field(10_000, ge=1)
    query_max_node_ids: int = Field(100, ge=1, le=100)
    query_max_input_list: int = Field(250, ge=1)
    # Seconds a successful key lookup is reused (0: never): a key revoked by another process
    # (the CLI) stops working within this bound; one revoked through this process at once.
    auth_cache_seconds: float = Field(5, ge=0, le=300)
    # Requests running longer are cancelled (their database work too) and answered 504.
    request_timeout_seconds: float = Field(10, gt=0)
    # A connection that has not sent its request's headers within this many seconds of opening
    # (or of its previous answer) is closed; so is an idle keep-alive connection.
    header_read_timeout_seconds: float = Field(15, gt=0, le=3600)
    # Scale-out. `serve --workers N`: processes sharing the port (SO_REUSEPORT).
    workers: int = Field(1, ge=1, le=64)
    # On SIGTERM: seconds requests in flight get to finish before they are cancelled.
    shutdown_grace_seconds: float = Field(10, ge=0, le=600)
    # A report job's lease: a job whose worker stopped renewing it is taken over after this.
    report_lease_seconds: float = Field(60, ge=1, le=3600)
    # The LISTEN/NOTIFY (PostgreSQL) or pub/sub (Redis) channel live events travel on.
    events_channel: str = Field("seliq_events", min_length=1, max_length=63)
    # Redis for rate-limit buckets shared by several gateway processes; unset: in-process.
    redis_url: str | None = None
    # Public base URL used when printing webhook URLs; default http://{host}:{port}.
    public_url: str | None = None
    # SLAs, AI summaries and reports.
    # Seconds between SLA sweeps (writing `sla.breached` events); 0 turns the sweeper off.
    sla_sweep_seconds: float = Field(30, ge=0)
    # Seconds between looks at the report queue; 0 turns this process's report worker off.
    report_poll_seconds: float = Field(1.0, ge=0)
    # OpenAI-compatible chat-completions provider for alert summaries (base URL such as
    # https://api.openai.com/v1 or http://127.0.0.1:11434/v1); unset means the built-in one.
    summary_url: str | None = None
    summary_model: str | None = None
    summary_api_key: SecretStr | None = None
    summary_timeout_seconds: float = Field(10, gt=0, le=120)
    summary_cache_size: int = Field(2048, ge=0)

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                f"(got {value.split('://')[0]!r})"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @property
    def allowed_origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from flags (`overrides`, None meaning "not given"), env and defaults."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        raise SettingsError(
            f"invalid setting SELIQ_{name.upper()}: {first['msg']} "
            f"(got {_shown(name, first.get('input'))})"
        ) from None


def _shown(name: str, value: Any) -> str:
    """The bad value as it may appear on a terminal or in a log: never a secret or password."""
    if "key" in name or "secret" in name:
        return "<hidden>"
    if isinstance(value, str) and "://" in value:
        return repr(re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", value))
    return repr(value)
