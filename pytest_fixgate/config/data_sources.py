"""Which database a data gate reads: its own ``mongodb_uri_env`` / ``redis_url_env``
key, else the environment's. Shared by the migrations, index and queue kinds."""

from __future__ import annotations

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds import KindContext

__all__ = ["database_name", "env_default", "mongo_uri_env", "redis_url_env"]


def env_default(ctx: KindContext, key: str) -> str | None:
    """The environment's own ``key`` (``[env.X] mongodb_uri_env``), unvalidated here:
    the loader validates it as the environment's key."""
    value = ctx.all_envs.get(ctx.env_name, {}).get(key)
    return value if isinstance(value, str) else None


def _named(table: ConfigTable, ctx: KindContext, key: str, what: str) -> str:
    name = table.env_name(key) or env_default(ctx, key)
    if not name:
        raise ConfigError(
            f"{what}: set {key} here or in [env.{ctx.env_name}]",
            file=table.file,
            key=table.path(key),
            expected="the name of the environment variable holding it",
        )
    return name


def mongo_uri_env(table: ConfigTable, ctx: KindContext) -> str:
    """The variable holding the MongoDB URI (its name, never its value)."""
    return _named(table, ctx, "mongodb_uri_env", "no MongoDB URI variable")


def redis_url_env(table: ConfigTable, ctx: KindContext) -> str:
    """The variable holding the Redis URL (its name, never its value)."""
    return _named(table, ctx, "redis_url_env", "no Redis URL variable")


def database_name(table: ConfigTable, default: str | None = None) -> str | None:
    """An optional ``database`` key (default: the URI's own database)."""
    name = table.get("database", str, default, expected="a MongoDB database name")
    if name is not None and (not name or any(c in name for c in '/\\. "$')):
        raise table.error("database", name, 'a MongoDB database name (no / \\ . space " $)')
    return name
