"""The MongoDB source: connection failures, document counts, payment failures. Reads only.

Metrics: ``connection_failures`` (1 when this tick's ``ping`` failed, else 0:
a failure is the measurement, not a gap), one count per ``[watch.mongo.counts]``
entry (``count_documents`` of a filtered collection, e.g. queued
``background_jobs``), and with ``[watch.mongo.payments]``:
``payment_failure_rate`` (failure statuses over all terminal statuses among
the transactions updated in the trailing ``window``) and
``payment_consecutive_failures`` (the leading run of failures, newest first).
When the ping fails, the other metrics are gaps.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.measurements.mongo_client import MongoTarget, mongo_database
from pytest_fixgate.measurements.mongo_probe import translate_errors
from pytest_fixgate.measurements.secrets import read_secret
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.watch.engine import Count, Rate, Reading
from pytest_fixgate.watch.rules import MongoWatch, PaymentsWatch

if TYPE_CHECKING:
    from pytest_fixgate.config.schema import EnvConfig
    from pytest_fixgate.watch.rules import WatchConfig

__all__ = ["MongoSource", "payment_readings"]

_CONSECUTIVE_SCAN = 1000  # newest terminal transactions read for the run of failures


def payment_readings(target: MongoTarget, payments: PaymentsWatch) -> dict[str, Reading]:
    """The two payment metrics, from the transactions updated in the trailing window."""
    coll = target.db[payments.collection]
    field = payments.status_field
    terminal = [*payments.failure_statuses, *payments.success_statuses]
    since = timing.utcnow() - _dt.timedelta(seconds=payments.window_s)
    recent = {payments.time_field: {"$gte": since}}
    total = coll.count_documents({**recent, field: {"$in": terminal}})
    failed = coll.count_documents({**recent, field: {"$in": list(payments.failure_statuses)}})
    run = 0
    newest = (
        coll.find({field: {"$in": terminal}}, {field: 1})
        .sort(payments.time_field, -1)
        .limit(_CONSECUTIVE_SCAN)
    )
    for doc in newest:
        if doc.get(field) not in payments.failure_statuses:
            break
        run += 1
    out: dict[str, Reading] = {"payment_consecutive_failures": Count(run)}
    out["payment_failure_rate"] = Rate(failed, total)
    return out


@dataclass
class MongoSource:
    name: str
    method: str
    watch: MongoWatch
    target: MongoTarget
    timeout_s: float
    redactor: Redactor
    stack: contextlib.ExitStack

    @classmethod
    def open(cls, cfg: WatchConfig, env: EnvConfig, redactor: Redactor) -> MongoSource:
        if not env.mongodb_uri_env:
            raise ProbeError(f"env.{env.name}: the mongo source needs mongodb_uri_env")
        uri = read_secret(env.mongodb_uri_env, f"env.{env.name}.mongodb_uri_env")
        watch = cfg.mongo or MongoWatch()
        timeout_s = min(env.timeout_s, cfg.interval_s)
        stack = contextlib.ExitStack()
        # A ping alone needs no database of the application's.
        database = watch.database or (None if watch.counts or watch.payments else "admin")
        target = stack.enter_context(mongo_database(uri, database, timeout_s=timeout_s))
        what = ["ping"]
        what += [f"count_documents({c}, {dict(f)})" for c, f in watch.counts.values()]
        if watch.payments is not None:
            what.append(f"payment statuses in {watch.payments.collection}")
        method = f"pymongo {target.target}: " + "; ".join(what) + " (reads only)"
        return cls("mongo", redactor.text(method), watch, target, timeout_s, redactor, stack)

    def sample(self) -> Mapping[str, Reading]:
        try:
            with translate_errors(self.target.target, self.timeout_s, self.redactor):
                self.target.client.admin.command("ping")
        except ProbeError:
            return {"connection_failures": Count(1)}
        out: dict[str, Reading] = {"connection_failures": Count(0)}
        with translate_errors(self.target.target, self.timeout_s, self.redactor):
            for metric, (collection, query) in self.watch.counts.items():
                out[metric] = Count(self.target.db[collection].count_documents(dict(query)))
            if self.watch.payments is not None:
                out.update(payment_readings(self.target, self.watch.payments))
        return out

    def close(self) -> None:
        self.stack.close()
