"""Locust scenario: reading work orders by organisation and status, with configurable weights.

Options (Locust command line, or the environment variable beside each):

    --wo-path PATH            FIXGATE_WO_PATH            route (/api/work-orders)
    --wo-orgs A,B             FIXGATE_WO_ORGS            organisation ids (org-alpha,org-beta)
    --wo-statuses A,B         FIXGATE_WO_STATUSES        statuses (open,in_progress,closed)
    --wo-weight-list N        FIXGATE_WO_WEIGHT_LIST     weight of "list an organisation's" (3)
    --wo-weight-status N      FIXGATE_WO_WEIGHT_STATUS   weight of "... with one status" (1)
    --wo-weight-ready N       FIXGATE_WO_WEIGHT_READY    weight of a readiness check (0)
    --wo-auth-header-env NAME FIXGATE_WO_AUTH_HEADER_ENV variable holding an Authorization
                                                         header value (unset: none sent)
    --wo-wait-min-s S         FIXGATE_WO_WAIT_MIN_S      pause between requests, from ...
    --wo-wait-max-s S         FIXGATE_WO_WAIT_MAX_S      ... to (0.5 and 1.5 s; 0 and 0: flat out)

A 200 whose body is not a JSON object with an ``items`` list (or, for the
readiness check, ``"ready": true``) is marked a failure ``bad_body: ...``.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from typing import Any, ClassVar

from locust import FastHttpUser, between, events
from locust.env import Environment


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("work-orders scenario (locustfiles/work_orders.py)")

    def option(name: str, default: Any, kind: type, text: str) -> None:
        env = "FIXGATE_" + name.removeprefix("--").upper().replace("-", "_")
        group.add_argument(name, env_var=env, type=kind, default=default, help=text)

    option("--wo-path", "/api/work-orders", str, "work-orders route")
    option("--wo-orgs", "org-alpha,org-beta", str, "comma-separated organisation ids")
    option("--wo-statuses", "open,in_progress,closed", str, "comma-separated statuses")
    option("--wo-weight-list", 3, int, "weight of listing an organisation's work orders")
    option("--wo-weight-status", 1, int, "weight of listing them with one status")
    option("--wo-weight-ready", 0, int, "weight of a readiness check")
    option("--wo-ready-path", "/api/health/ready", str, "readiness route")
    option("--wo-auth-header-env", "", str, "variable holding an Authorization header value")
    option("--wo-wait-min-s", 0.5, float, "shortest pause between a user's requests (s)")
    option("--wo-wait-max-s", 1.5, float, "longest pause between a user's requests (s)")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _json(response: Any) -> Any:
    try:
        return json.loads(response.content or b"")
    except ValueError:
        return None


class WorkOrdersUser(FastHttpUser):
    """Reads work orders; the task mix comes from the options."""

    path = "/api/work-orders"
    ready_path = "/api/health/ready"
    orgs: ClassVar[list[str]] = ["org-alpha", "org-beta"]
    statuses: ClassVar[list[str]] = ["open", "in_progress", "closed"]
    headers: ClassVar[dict[str, str]] = {}
    wait_time = between(0.5, 1.5)

    def _get(self, url: str, name: str, check: Callable[[Any], bool], expected: str) -> None:
        with self.client.get(url, name=name, headers=self.headers, catch_response=True) as response:
            if 200 <= (response.status_code or 0) < 300 and not check(_json(response)):
                text = (response.text or "")[:80]
                response.failure(f"bad_body: expected {expected}, got {text!r}")

    def list_orders(self) -> None:
        org = random.choice(self.orgs)
        self._get(
            f"{self.path}?organizationId={org}",
            f"{self.path}?organizationId=[org]",
            lambda body: isinstance(body, dict) and isinstance(body.get("items"), list),
            'an object with an "items" list',
        )

    def orders_by_status(self) -> None:
        org, status = random.choice(self.orgs), random.choice(self.statuses)
        self._get(
            f"{self.path}?organizationId={org}&status={status}",
            f"{self.path}?organizationId=[org]&status=[status]",
            lambda body: isinstance(body, dict) and isinstance(body.get("items"), list),
            'an object with an "items" list',
        )

    def ready(self) -> None:
        self._get(
            self.ready_path,
            self.ready_path,
            lambda body: isinstance(body, dict) and body.get("ready") is True,
            '{"ready": true}',
        )

    tasks: ClassVar[list[Any]] = [list_orders]


def _configure(environment: Environment, **_kw: Any) -> None:
    # Applied at init and again at test start: a worker gets the master's
    # command-line options only with its first spawn message.
    options = environment.parsed_options
    if options is None:
        return
    user = WorkOrdersUser
    user.path, user.ready_path = options.wo_path, options.wo_ready_path
    user.orgs = _split(options.wo_orgs) or user.orgs
    user.statuses = _split(options.wo_statuses) or user.statuses
    auth = os.environ.get(options.wo_auth_header_env) if options.wo_auth_header_env else None
    user.headers = {"Authorization": auth} if auth else {}
    weights = {
        WorkOrdersUser.list_orders: options.wo_weight_list,
        WorkOrdersUser.orders_by_status: options.wo_weight_status,
        WorkOrdersUser.ready: options.wo_weight_ready,
    }
    if any(w < 0 for w in weights.values()) or not any(weights.values()):
        raise ValueError(f"work_orders.py: task weights must be >= 0, not all 0: {weights}")
    # Locust picks a task uniformly from this list: a weight is a repetition.
    user.tasks = [fn for fn, weight in weights.items() for _ in range(weight)]
    low, high = float(options.wo_wait_min_s), float(options.wo_wait_max_s)
    user.wait_time = between(low, max(low, high))


events.init.add_listener(_configure)
events.test_start.add_listener(_configure)
