"""The pytest plugin (entry point ``pytest11: fixgate``): options, the gate
marker, fixtures, and the glue that turns finished tests into gate results.

State lives in ``config.stash`` (:data:`RUN_KEY`) and ``item.stash``; the
reports are written by :class:`~pytest_fixgate.reports.reporter.GateReporter`,
registered on the controller only (under xdist, workers just run gates and
ship their results inside ``report.user_properties``).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Generator
from pathlib import Path

import pytest

from pytest_fixgate import hookspecs
from pytest_fixgate.config.loader import find_config, load_config, select_env
from pytest_fixgate.config.schema import EnvConfig
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.gate_api import GateMarker, GateRecorder, gate_marker
from pytest_fixgate.gate_report import annotate_report
from pytest_fixgate.gate_run import NOT_CONFIGURED_PROPERTY, RESULT_PROPERTY, GateRun
from pytest_fixgate.kinds import GateKind, kinds_by_section
from pytest_fixgate.kinds.builtin import BUILTIN_KIND_PLUGINS
from pytest_fixgate.outcomes.model import GateInfo
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.release.signing import SigningKeyError, signing_key
from pytest_fixgate.run_state import RUN_KEY, current_gate_run, option_group
from pytest_fixgate.session_redaction import session_secrets
from pytest_fixgate.startup import block_test_only_plugins
from pytest_fixgate.suite import BUILTIN_SUITE

__all__ = [
    "NOT_CONFIGURED_PROPERTY",
    "RESULT_PROPERTY",
    "RUN_KEY",
    "current_gate_run",
    "registered_kinds",
]

_INFO_KEY = pytest.StashKey[GateInfo]()
_RECORDER_KEY = pytest.StashKey[GateRecorder]()
_MISSING_KEY = pytest.StashKey[str]()


_OWN_SUITE = "gates"


def _env_name(value: str) -> str:
    if not value or not value.replace("-", "").replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"{value!r} is not an environment name")
    return value


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = option_group(parser)
    group.addoption(
        "--gate",
        metavar="ENV",
        type=_env_name,
        default=None,
        help="run the gate suite (gates/) against environment ENV of the config "
        "and end with one decision: PROMOTE (exit 0), HOLD (1) or ROLLBACK (10)",
    )
    group.addoption(
        "--gate-config",
        metavar="PATH",
        type=Path,
        default=None,
        help="config file (default: fixgate.toml, else [tool.fixgate] in pyproject.toml)",
    )
    group.addoption(
        "--gate-report-dir",
        metavar="DIR",
        type=Path,
        default=Path("reports"),
        help="folder for the HTML, JSON and JUnit gate reports (default: reports/)",
    )
    group.addoption(
        "--gate-advisory",
        action="store_true",
        default=False,
        help="report the decision but exit 0 (a dry run)",
    )
    group.addoption(
        "--gate-sign-key-env",
        metavar="NAME",
        default=None,
        help="sign the verdict (HMAC-SHA256) with the key in environment variable NAME "
        "(default: FIXGATE_SIGNING_KEY when it is set)",
    )
    # Then each built-in kind, as a third-party one joins: its options follow these.
    for name in BUILTIN_KIND_PLUGINS:
        pluginmanager.register(importlib.import_module(name), name)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    # First: the test-only plugins not imported yet stay so in a gate run (startup.py).
    block_test_only_plugins(pluginmanager)
    pluginmanager.add_hookspecs(hookspecs)


def registered_kinds(config: pytest.Config) -> list[GateKind]:
    """Every gate kind from the ``pytest_fixgate_gate_kinds`` hook, built-in ones first."""
    found: list[GateKind] = []
    for result in reversed(config.hook.pytest_fixgate_gate_kinds()):
        found.extend(result or ())
    try:
        kinds_by_section(found)
    except ValueError as exc:
        raise pytest.UsageError(f"fixgate: {exc}") from None
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    # `pytest --gate=ENV` with no paths runs the gate suite, not testpaths (tests/).
    # The built-in suite ships inside the package; a team's own gate tests live in
    # a gates/ folder beside the run (its working directory), collected too.
    namespace = early_config.known_args_namespace
    if getattr(namespace, "gate", None) and not getattr(namespace, "file_or_dir", None):
        suites = [str(BUILTIN_SUITE)]
        own = Path.cwd() / _OWN_SUITE
        if own.is_dir() and own.resolve() != BUILTIN_SUITE:
            suites.append(str(own))
        args.extend(suites)
        # Also where pytest looks for initial conftests, so a conftest.py in gates/ may
        # register gate kinds before the config is read.
        namespace.file_or_dir = suites


@pytest.hookimpl(tryfirst=True)  # before junitxml and pytest-html read their paths
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "gate(id, title='', severity='critical', required=True, needs=()): "
        "a release gate of pytest-fixgate; `needs` names EnvConfig keys it requires",
    )
    env_name = config.getoption("gate", None)
    if not env_name:
        return
    _refuse_runs_without_gates(config)
    try:
        kinds = registered_kinds(config)
        path = find_config(config.getoption("gate_config"), config.rootpath)
        env = select_env(load_config(path, kinds), env_name)
    except ConfigError as exc:
        raise pytest.UsageError(f"fixgate: {exc}") from None
    # One redactor for the session, fed before any gate runs: on the controller and on
    # every xdist worker alike, each builds it from the same config and environment.
    secrets = session_secrets(env, kinds)
    try:
        key = signing_key(config.getoption("gate_sign_key_env", None))
    except SigningKeyError as exc:
        raise pytest.UsageError(f"fixgate: {exc}") from None
    if key is not None:
        secrets.redactor.add([key.value])
    run = GateRun(
        env=env,
        kinds=tuple(kinds),
        config_path=path,
        redactor=secrets.redactor,
        advisory=bool(config.getoption("gate_advisory")),
        redaction_notes=secrets.notes,
        signing_key=key,
    )
    if not run.advisory:
        _refuse_partial_runs(config)
    config.stash[RUN_KEY] = run
    _fewer_gc_passes(config)
    if hasattr(config, "workerinput"):
        return  # the controller aggregates and writes the reports
    # deferred: the reports load only in a gate run's controller
    from pytest_fixgate.reports.reporter import GateReporter

    reporter = GateReporter.for_config(config, run)
    config.pluginmanager.register(reporter, GateReporter.PLUGIN_NAME)


#: Options under which pytest runs no gate at all (it lists, plans or shows help), as
#: (option dest, flag): with --gate they would exit 0 beside a HOLD verdict, or none.
_NO_GATE_OPTIONS = (
    ("showfixtures", "--fixtures"),
    ("show_fixtures_per_test", "--fixtures-per-test"),
    ("collectonly", "--collect-only"),
    ("setupplan", "--setup-plan"),  # before --setup-only: --setup-plan sets it too
    ("setuponly", "--setup-only"),
    ("markers", "--markers"),
    ("help", "--help"),
)
#: fixgate's own plugins: a gate run with one of them disabled (``-p no:NAME``) would
#: skip its gates, write no verdict, or decide nothing.
INTERNAL_PLUGINS = ("fixgate-reporter", *BUILTIN_KIND_PLUGINS)


def _refuse_runs_without_gates(config: pytest.Config) -> None:
    """A gate run either runs the gates and decides, or is a usage error (exit 4): an
    option that runs no gate, or a disabled part of fixgate, never ends in exit 0."""
    for dest, flag in _NO_GATE_OPTIONS:
        if getattr(config.option, dest, None):
            raise pytest.UsageError(
                f"fixgate: {flag} runs no gate; drop --gate (or PYTEST_ADDOPTS) to use it"
            )
    for name in INTERNAL_PLUGINS:
        if config.pluginmanager.is_blocked(name):
            raise pytest.UsageError(
                f"fixgate: -p no:{name} disables a part of fixgate; a gate run needs all of it"
            )


#: Options that run a part of the suite or stop it early, as (option dest, flag).
_PARTIAL_RUN_OPTIONS = (
    ("keyword", "-k"),
    ("markexpr", "-m"),
    ("deselect", "--deselect"),
    ("lf", "--lf"),
    ("failedfirst", "--ff"),
    ("stepwise", "--sw"),
    ("stepwise_skip", "--sw-skip"),
    ("maxfail", "-x/--maxfail"),
)


def _refuse_partial_runs(config: pytest.Config) -> None:
    """A release decision needs every gate: options that select or stop early are allowed
    only in an advisory run. (A file or node id on the command line is allowed, and the
    gates it leaves out end ERROR "did not run": the completeness rule.)"""
    for dest, flag in _PARTIAL_RUN_OPTIONS:
        if getattr(config.option, dest, None):
            raise pytest.UsageError(
                f"fixgate: {flag} runs only part of the gate suite; a gate run decides on "
                "every gate. Add --gate-advisory for a partial, advisory run (exit 0)"
            )


def _fewer_gc_passes(config: pytest.Config) -> None:
    """pytest runs gc.collect() five times at exit to catch unraisable exceptions from test
    code; a gate run has no such code and pays ~0.1-0.3 s for it. One pass still reports."""
    try:
        # deferred: a private pytest module, used only when it exists
        from _pytest.unraisableexception import gc_collect_iterations_key
    except ImportError:  # another pytest: keep its default
        return
    config.stash[gc_collect_iterations_key] = 1


def pytest_unconfigure(config: pytest.Config) -> None:
    if RUN_KEY not in config.stash:
        return  # not a gate run: nothing was registered
    # deferred: the reports load only in a gate run's controller
    from pytest_fixgate.reports.reporter import GateReporter

    reporter = config.pluginmanager.get_plugin(GateReporter.PLUGIN_NAME)
    if reporter is not None:
        config.pluginmanager.unregister(reporter)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = config.stash.get(RUN_KEY, None)
    for item in items:
        marker = gate_marker(item)
        if run is None:
            if marker is not None:
                item.add_marker(pytest.mark.skip(reason="a gate: run it with --gate=ENV"))
            continue
        if marker is None:
            # A test in the gate suite without a marker still counts, and is required.
            marker = GateMarker(item.nodeid, item.name, "critical", True, ())
        unknown = [name for name in marker.needs if not run.env.knows(name)]
        if unknown:
            # A typo here would hide the gate as "not configured" forever.
            raise pytest.UsageError(
                f"fixgate: {item.nodeid}: needs={unknown[0]!r} is neither an environment key "
                "nor a registered gate kind's section"
            )
        item.stash[_INFO_KEY] = marker.info_for(item, run.env)
        missing = marker.missing_config(run.env)
        if missing is not None:
            item.stash[_MISSING_KEY] = missing


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize gate tests, the built-in suite's and a team's own alike, from the
    environment, through the fixtures each registered gate kind declares."""
    run = current_gate_run(metafunc.config)
    for kind in run.kinds if run is not None else ():
        for fixture, params in kind.params.items():
            if fixture not in metafunc.fixturenames:
                continue
            section = run.env.section(kind.section) if kind.section else None
            pairs = list(params(section, run.env)) if section is not None else []
            if pairs:
                metafunc.parametrize(fixture, [v for _, v in pairs], ids=[i for i, _ in pairs])
            else:
                # Keep one item, so the report lists the gate as not configured.
                metafunc.parametrize(fixture, [None], ids=["none"])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    run = item.config.stash.get(RUN_KEY, None)
    if run is None or _INFO_KEY not in item.stash:
        return
    item.stash[_RECORDER_KEY] = GateRecorder(item.stash[_INFO_KEY], run.redactor)
    missing = item.stash.get(_MISSING_KEY, None)
    if missing is not None:
        pytest.skip(f"not configured: env.{run.env.name}.{missing} is not set")


@pytest.fixture(scope="session")
def gate_env(request: pytest.FixtureRequest) -> EnvConfig:
    """The environment under test (``--gate=ENV``), defaults applied."""
    run = request.config.stash.get(RUN_KEY, None)
    if run is None:
        pytest.skip("a gate: run it with --gate=ENV")
    return run.env


@pytest.fixture(scope="session")
def gate_redactor(request: pytest.FixtureRequest) -> Redactor:
    """Masks the values of the secrets the config names."""
    run = request.config.stash.get(RUN_KEY, None)
    return run.redactor if run is not None else Redactor()


@pytest.fixture
def gate(request: pytest.FixtureRequest) -> GateRecorder:
    """Records this gate's finding: ``gate.record(finding)``."""
    recorder = request.node.stash.get(_RECORDER_KEY, None)
    if recorder is None:
        pytest.skip("a gate: run it with --gate=ENV")
    return recorder


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    run = current_gate_run(item.config)
    if run is None or _INFO_KEY not in item.stash:
        return report
    recorder = item.stash.get(_RECORDER_KEY, None) if call.when == "call" else None
    annotate_report(
        report,
        call,
        item.stash[_INFO_KEY],
        recorder=recorder,
        missing=item.stash.get(_MISSING_KEY, None),
        redactor=run.redactor,
    )
    return report
