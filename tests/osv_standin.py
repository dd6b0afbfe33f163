"""A stand-in for the OSV API (https://api.osv.dev) on 127.0.0.1, serving real records.

``POST /v1/query``, ``POST /v1/querybatch`` and ``GET /v1/vulns/{id}`` in OSV's
documented format, over the real advisory records in
:mod:`pytest_fixgate.reference.advisories` (PYSEC-2018-28 and its alias
GHSA-x84v-xcm2-53pg, PYSEC-2023-74 and GHSA-j8r2-6x86-q33q, GHSA-jf85-cpcp-j695).
The server itself is :mod:`pytest_fixgate.reference.advisory_server` (``fixgate
demo`` starts the same one); here it answers the OSV routes only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pytest_fixgate.reference.advisory_server import AdvisoryServer, advisory_server

__all__ = ["osv_standin"]


@contextmanager
def osv_standin() -> Iterator[AdvisoryServer]:
    with advisory_server(routes=("osv",)) as server:
        yield server
