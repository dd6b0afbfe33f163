"""Real advisory records, as the OSV database and npm's registry serve them.

A small, fixed slice of the public advisory databases, copied from
https://osv.dev and https://github.com/advisories, so that the audit gates can
be shown (``fixgate demo``) and tested against real data on 127.0.0.1:

- ``PYSEC-2018-28`` (requests < 2.20.0, no severity of its own) and its alias
  ``GHSA-x84v-xcm2-53pg`` (HIGH, CVSS 3.1 7.5);
- ``PYSEC-2023-74`` and its alias ``GHSA-j8r2-6x86-q33q`` (requests 2.3.0 up
  to 2.31.0, MODERATE, CVSS 3.1 6.1);
- ``GHSA-jf85-cpcp-j695`` (lodash < 4.17.12, CRITICAL, CVSS 3.1 9.1), also in
  the shape npm's bulk advisory endpoint answers.

Version matching (``affects``) covers what these records use: OSV
``ECOSYSTEM`` ranges of ``introduced``/``fixed`` events, compared as PyPI
(PEP 440) or npm (semver) versions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["NPM_ADVISORIES", "OSV_RECORDS", "affects", "version_key"]

_REQUESTS_REFS = [
    {"type": "WEB", "url": "https://github.com/psf/requests"},
    {"type": "PACKAGE", "url": "https://pypi.org/project/requests"},
]

OSV_RECORDS: dict[str, dict[str, Any]] = {
    "PYSEC-2018-28": {
        "schema_version": "1.6.0",
        "id": "PYSEC-2018-28",
        "modified": "2024-11-21T14:22:48Z",
        "published": "2018-10-09T17:29:00Z",
        "aliases": ["CVE-2018-18074", "GHSA-x84v-xcm2-53pg"],
        "details": (
            "The Requests package before 2.20.0 for Python sends an HTTP Authorization "
            "header to an http URI upon receiving a same-hostname https-to-http redirect, "
            "which makes it easier for remote attackers to discover credentials by "
            "sniffing the network."
        ),
        "affected": [
            {
                "package": {"name": "requests", "ecosystem": "PyPI", "purl": "pkg:pypi/requests"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": "2.20.0"}],
                    }
                ],
            }
        ],
        "references": [
            {"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2018-18074"},
            {"type": "FIX", "url": "https://github.com/requests/requests/pull/4718"},
        ],
    },
    "GHSA-x84v-xcm2-53pg": {
        "schema_version": "1.6.0",
        "id": "GHSA-x84v-xcm2-53pg",
        "modified": "2024-11-19T19:51:29Z",
        "published": "2018-10-29T19:06:45Z",
        "aliases": ["CVE-2018-18074"],
        "related": ["PYSEC-2018-28"],
        "summary": "Insufficiently Protected Credentials in Requests",
        "details": (
            "The Requests package through 2.19.1 before 2018-09-14 for Python sends an "
            "HTTP Authorization header to an http URI upon receiving a same-hostname "
            "https-to-http redirect, which makes it easier for remote attackers to "
            "discover credentials by sniffing the network."
        ),
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
        "affected": [
            {
                "package": {"name": "requests", "ecosystem": "PyPI", "purl": "pkg:pypi/requests"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": "2.20.0"}],
                    }
                ],
            }
        ],
        "references": _REQUESTS_REFS,
        "database_specific": {
            "cwe_ids": ["CWE-522"],
            "severity": "HIGH",
            "github_reviewed": True,
            "github_reviewed_at": "2020-06-16T21:37:05Z",
            "nvd_published_at": None,
        },
    },
    "PYSEC-2023-74": {
        "schema_version": "1.6.0",
        "id": "PYSEC-2023-74",
        "modified": "2024-11-21T14:22:48Z",
        "published": "2023-05-26T18:15:00Z",
        "aliases": ["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"],
        "details": (
            "Requests is a HTTP library. Since Requests 2.3.0, Requests has been leaking "
            "Proxy-Authorization headers to destination servers when redirected to an HTTPS "
            "endpoint. This issue has been patched in version 2.31.0."
        ),
        "affected": [
            {
                "package": {"name": "requests", "ecosystem": "PyPI", "purl": "pkg:pypi/requests"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}],
                    }
                ],
            }
        ],
        "references": [
            {"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2023-32681"},
        ],
    },
    "GHSA-j8r2-6x86-q33q": {
        "schema_version": "1.6.0",
        "id": "GHSA-j8r2-6x86-q33q",
        "modified": "2024-11-19T19:51:29Z",
        "published": "2023-05-22T20:36:32Z",
        "aliases": ["CVE-2023-32681", "PYSEC-2023-74"],
        "summary": "Unintended leak of Proxy-Authorization header in requests",
        "details": (
            "Since Requests v2.3.0, Requests has been vulnerable to potentially leaking "
            "Proxy-Authorization headers to destination servers, specifically during "
            "redirects to an HTTPS origin."
        ),
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N"}],
        "affected": [
            {
                "package": {"name": "requests", "ecosystem": "PyPI", "purl": "pkg:pypi/requests"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}],
                    }
                ],
            }
        ],
        "references": _REQUESTS_REFS,
        "database_specific": {
            "cwe_ids": ["CWE-200"],
            "severity": "MODERATE",
            "github_reviewed": True,
            "github_reviewed_at": "2023-05-22T20:36:32Z",
            "nvd_published_at": "2023-05-26T18:15:14Z",
        },
    },
    "GHSA-jf85-cpcp-j695": {
        "schema_version": "1.6.0",
        "id": "GHSA-jf85-cpcp-j695",
        "modified": "2024-10-30T20:43:14Z",
        "published": "2019-07-10T19:45:23Z",
        "aliases": ["CVE-2019-10744"],
        "summary": "Prototype Pollution in lodash",
        "details": (
            "Versions of lodash before 4.17.12 are vulnerable to Prototype Pollution. The "
            "function defaultsDeep allows a malicious user to modify the prototype of "
            "Object via {constructor: {prototype: {...}}} causing the addition or "
            "modification of an existing property that will exist on all objects."
        ),
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H"}],
        "affected": [
            {
                "package": {"name": "lodash", "ecosystem": "npm", "purl": "pkg:npm/lodash"},
                "ranges": [
                    {
                        "type": "SEMVER",
                        "events": [{"introduced": "0"}, {"fixed": "4.17.12"}],
                    }
                ],
            }
        ],
        "references": [
            {"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2019-10744"},
            {"type": "PACKAGE", "url": "https://github.com/lodash/lodash"},
        ],
        "database_specific": {
            "cwe_ids": ["CWE-1321", "CWE-20"],
            "severity": "CRITICAL",
            "github_reviewed": True,
            "github_reviewed_at": "2019-07-10T19:45:01Z",
            "nvd_published_at": "2019-07-26T00:15:00Z",
        },
    },
}

#: npm's bulk advisory endpoint's shape (``POST /-/npm/v1/security/advisories/bulk``),
#: by package name.
NPM_ADVISORIES: dict[str, list[dict[str, Any]]] = {
    "lodash": [
        {
            "id": 1106913,
            "url": "https://github.com/advisories/GHSA-jf85-cpcp-j695",
            "title": "Prototype Pollution in lodash",
            "severity": "critical",
            "vulnerable_versions": "<4.17.12",
            "cwe": ["CWE-1321", "CWE-20"],
            "cvss": {
                "score": 9.1,
                "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H",
            },
        }
    ],
}

_NUM = re.compile(r"\d+")


def version_key(version: str) -> tuple[int, ...]:
    """A sort key for the plain release versions these records use (``2.19.1``)."""
    return tuple(int(part) for part in _NUM.findall(version.split("-", 1)[0].split("+", 1)[0]))


def affects(record: Mapping[str, Any], ecosystem: str, name: str, version: str) -> bool:
    """Whether ``record`` lists ``name`` at ``version`` in ``ecosystem`` as affected."""
    key = version_key(version)
    for affected in record.get("affected", []):
        package = affected.get("package", {})
        if package.get("ecosystem") != ecosystem or _norm(package.get("name", "")) != _norm(name):
            continue
        if version in affected.get("versions", []):
            return True
        for rng in affected.get("ranges", []):
            inside = False
            for event in rng.get("events", []):
                if "introduced" in event:
                    start = event["introduced"]
                    inside = inside or start == "0" or key >= version_key(start)
                elif "fixed" in event and key >= version_key(event["fixed"]):
                    inside = False
            if inside:
                return True
    return False


def npm_vulnerable(range_text: str, version: str) -> bool:
    """Whether ``version`` satisfies an npm range of ``<``/``<=``/``>=``/``>`` comparators."""
    key = version_key(version)
    for part in range_text.split():
        match = re.match(r"^(<=|>=|<|>|=)?(.+)$", part)
        if match is None:
            return False
        op, bound = match.group(1) or "=", version_key(match.group(2))
        ok = {
            "<": key < bound,
            "<=": key <= bound,
            ">": key > bound,
            ">=": key >= bound,
            "=": key == bound,
        }[op]
        if not ok:
            return False
    return True


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
