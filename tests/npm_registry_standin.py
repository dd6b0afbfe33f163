"""A stand-in for the npm registry's audit API on 127.0.0.1, serving a real advisory.

``npm audit`` (npm 7+) and ``pnpm audit`` (pnpm 10+) post the installed
versions to ``POST /-/npm/v1/security/advisories/bulk`` (gzip, ``{"lodash":
["4.17.11"]}``) and expect ``{"lodash": [{id, url, title, severity,
vulnerable_versions, cwe, cvss: {score, vectorString}}]}``; with a lockfile
and ``--registry`` that is all they ask of a registry (checked with npm 11.19
and pnpm 12.21: no packument or tarball requests). It serves
GHSA-jf85-cpcp-j695 (lodash < 4.17.12, critical, CVSS 3.1 9.1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pytest_fixgate.reference.advisory_server import AdvisoryServer, advisory_server

__all__ = ["npm_registry_standin"]


@contextmanager
def npm_registry_standin() -> Iterator[AdvisoryServer]:
    with advisory_server(routes=("npm",)) as server:
        yield server
