"""Locust scenario: users polling the readiness route, each answer checked for {"ready": true}.

Options (Locust command line, or the environment variable beside each):

    --ready-path PATH        FIXGATE_READY_PATH        route to poll (/api/health/ready)
    --ready-token-env NAME   FIXGATE_READY_TOKEN_ENV   variable holding the X-Health-Token
                                                       to send (HEALTH_CHECK_TOKEN; unset: none)
    --ready-wait-min-s S     FIXGATE_READY_WAIT_MIN_S  pause between requests, from ...
    --ready-wait-max-s S     FIXGATE_READY_WAIT_MAX_S  ... to (0.5 and 1.5 s; 0 and 0: flat out)

A 2xx whose body is not a JSON object with ``"ready": true`` is marked a
failure with a message starting ``bad_body:``; other statuses keep Locust's
own verdict (>= 400 is a failure). The real application limits health
routes to 120 requests/min per client IP: more users only buy HTTP 429s.
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

from locust import FastHttpUser, between, events, task
from locust.env import Environment


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("readiness scenario (locustfiles/ready.py)")
    group.add_argument(
        "--ready-path",
        env_var="FIXGATE_READY_PATH",
        default="/api/health/ready",
        help="readiness route to poll",
    )
    group.add_argument(
        "--ready-token-env",
        env_var="FIXGATE_READY_TOKEN_ENV",
        default="HEALTH_CHECK_TOKEN",
        help="name of the environment variable holding the X-Health-Token",
    )
    group.add_argument(
        "--ready-wait-min-s",
        env_var="FIXGATE_READY_WAIT_MIN_S",
        type=float,
        default=0.5,
        help="shortest pause between a user's requests (s)",
    )
    group.add_argument(
        "--ready-wait-max-s",
        env_var="FIXGATE_READY_WAIT_MAX_S",
        type=float,
        default=1.5,
        help="longest pause between a user's requests (s)",
    )


def _configure(environment: Environment, **_kw: Any) -> None:
    # Applied at init and again at test start: a worker gets the master's
    # command-line options only with its first spawn message.
    options = environment.parsed_options
    if options is None:
        return
    ReadinessUser.path = options.ready_path
    token = os.environ.get(options.ready_token_env or "")
    ReadinessUser.headers = {"X-Health-Token": token} if token else {}
    low, high = float(options.ready_wait_min_s), float(options.ready_wait_max_s)
    ReadinessUser.wait_time = between(low, max(low, high))


events.init.add_listener(_configure)
events.test_start.add_listener(_configure)


class ReadinessUser(FastHttpUser):
    """Polls the readiness route and checks the body."""

    path = "/api/health/ready"
    headers: ClassVar[dict[str, str]] = {}
    wait_time = between(0.5, 1.5)

    @task
    def ready(self) -> None:
        with self.client.get(
            self.path, name=self.path, headers=self.headers, catch_response=True
        ) as response:
            if 200 <= (response.status_code or 0) < 300:
                try:
                    body = json.loads(response.content or b"")
                except ValueError:
                    body = None
                if not (isinstance(body, dict) and body.get("ready") is True):
                    text = (response.text or "")[:80]
                    response.failure(f'bad_body: expected {{"ready": true}}, got {text!r}')
