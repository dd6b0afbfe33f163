"""Every URL key of every section goes through one validator: credentials in a URL (a
user part, a token as the user, percent-encoded, or a ``?token=`` query) are a usage
error (exit 4) naming the key, and the value is never echoed to the terminal or a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from gaterun import run_gate

from pytest_fixgate.config.urls import check_url
from pytest_fixgate.errors import ConfigError

SECRET = "Tk9PlantedUrlSecret"
OK = "http://127.0.0.1:9"

#: (the key as the error names it, a config whose only bad URL is ``{url}``)
SECTIONS = {
    "env.staging.base_url": '[env.staging]\nbase_url = "{url}"\n',
    "env.staging.flags.base_url": (
        f'[env.staging]\nbase_url = "{OK}"\n[env.staging.flags]\nbase_url = "{{url}}"\n'
        'intended = { "a" = true }\n'
    ),
    "env.staging.sentry.base_url": (
        f'[env.staging]\nbase_url = "{OK}"\n[env.staging.sentry]\nbase_url = "{{url}}"\n'
    ),
    "env.staging.audit[0].registry": (
        f'[env.staging]\nbase_url = "{OK}"\n[[env.staging.audit]]\nid = "node"\n'
        'tool = "npm"\nregistry = "{url}"\n'
    ),
    "env.staging.watch.prometheus.url": (
        f'[env.staging]\nbase_url = "{OK}"\n[env.staging.watch]\n'
        '[env.staging.watch.prometheus]\nurl = "{url}"\n'
    ),
}
BAD_URLS = {
    "user-and-password": f"https://gate:{SECRET}@host.example",
    "token-as-user": f"https://{SECRET}@host.example/api",
    "percent-encoded": f"https://gate:{SECRET}%21@host.example",
    "query-token": f"https://host.example/api?token={SECRET}",
}


@pytest.mark.parametrize("shape", list(BAD_URLS))
@pytest.mark.parametrize("key", list(SECTIONS))
def test_a_url_key_with_credentials_is_refused_unechoed(
    tmp_path: Path, key: str, shape: str
) -> None:
    config = SECTIONS[key].replace("{url}", BAD_URLS[shape])
    run = run_gate(tmp_path, config, "-n", "2" if shape == "query-token" else "0")
    assert run.exit_code == 4, run.output
    assert SECRET not in run.output
    assert not run.files  # nothing written: no JSON, HTML or JUnit could echo it
    (line,) = [x for x in run.output.splitlines() if "fixgate:" in x]
    assert key in line.replace("[1]", "[0]") or key.split("[")[0] in line, line
    assert "(the value is not shown)" in line, line


def test_the_validator_accepts_plain_urls_and_refuses_other_shapes() -> None:
    for good in ("https://sentry.io", "http://127.0.0.1:9090/prefix", "https://h.example/a/b/"):
        assert check_url(good, file="f", key="k") == good
    for bad in ("ftp://h.example", "http://", "h.example", "http://h.example:99999", " http://h"):
        with pytest.raises(ConfigError):
            check_url(bad, file="f", key="k")
    with pytest.raises(ConfigError) as err:
        check_url(f"http//gate:{SECRET}@h", file="f", key="k")  # no "//": still not echoed
    assert SECRET not in str(err.value)
