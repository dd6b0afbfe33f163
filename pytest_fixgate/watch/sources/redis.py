"""The Redis source: the length of lists (queue depth), read with LLEN. Reads only.

Metrics: one per ``[watch.redis] lists`` entry, the sum of its lists'
lengths; ``connection_failures`` (1 when the tick's commands failed). A
failed tick leaves the list metrics as gaps, never as an empty queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_fixgate.errors import ProbeError
from pytest_fixgate.measurements.redis_probe import redis_client, translate_errors
from pytest_fixgate.measurements.secrets import read_secret
from pytest_fixgate.redaction import Redactor, mask_uri_password
from pytest_fixgate.watch.engine import Count, Reading
from pytest_fixgate.watch.rules import RedisWatch

if TYPE_CHECKING:
    from pytest_fixgate.config.schema import EnvConfig
    from pytest_fixgate.watch.rules import WatchConfig

__all__ = ["RedisSource"]


@dataclass
class RedisSource:
    name: str
    method: str
    watch: RedisWatch
    client: Any
    target: str
    timeout_s: float
    redactor: Redactor

    @classmethod
    def open(cls, cfg: WatchConfig, env: EnvConfig, redactor: Redactor) -> RedisSource:
        if not env.redis_url_env:
            raise ProbeError(f"env.{env.name}: the redis source needs redis_url_env")
        url = read_secret(env.redis_url_env, f"env.{env.name}.redis_url_env")
        target = mask_uri_password(url)
        timeout_s = min(env.timeout_s, cfg.interval_s)
        watch = cfg.redis or RedisWatch()
        with translate_errors(target, timeout_s, Redactor([url])):
            client = redis_client(url, timeout_s=timeout_s)
        keys = ", ".join(k for keys in watch.lists.values() for k in keys)
        method = f"redis {target}: LLEN {keys} (reads only)"
        return cls("redis", redactor.text(method), watch, client, target, timeout_s, redactor)

    def sample(self) -> Mapping[str, Reading]:
        try:
            with translate_errors(self.target, self.timeout_s, self.redactor):
                pipe = self.client.pipeline(transaction=False)
                for keys in self.watch.lists.values():
                    for key in keys:
                        pipe.llen(key)
                lengths = iter(pipe.execute()) if self.watch.lists else iter(())
                if not self.watch.lists:
                    self.client.ping()
        except ProbeError:
            return {"connection_failures": Count(1)}
        out: dict[str, Reading] = {"connection_failures": Count(0)}
        for metric, keys in self.watch.lists.items():
            out[metric] = Count(sum(int(next(lengths)) for _ in keys))
        return out

    def close(self) -> None:
        self.client.close()
