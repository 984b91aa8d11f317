# SPDX-License-Identifier: Apache-2.0
"""Fixtures shared by the integration tests and the fault tests (each conftest.py imports them):
one PostgreSQL cluster per test session, a fresh database per test, and pezd processes that are
stopped (and must exit 0) at the end of each test; their logs are printed when a test fails.
The database is a copy of one that pezd migrate made, unless the test is marked empty_database."""

import os
import shutil
import signal

import pytest

import harness


def pytest_configure(config):
    config.addinivalue_line("markers", "strict_only: behaviour of strict mode; block mode has its own tests")
    config.addinivalue_line("markers", "empty_database: the db fixture is an empty database (pezd's first start)")
    for path, what in ((harness.PEZD, "pezd"), (harness.PEZ, "pez")):
        if not os.access(path, os.X_OK):
            raise pytest.UsageError(f"{what} is not built at {path}: build first (scripts/build) or set "
                                    f"{what.upper()} to its path")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "report_" + report.when, report)


def pytest_collection_modifyitems(config, items):
    if harness.MODE == "strict":
        return
    skip = pytest.mark.skip(reason="strict mode only; tests/integration/test_block.py covers block mode")
    for item in items:
        if "strict_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cluster():
    # A missing PostgreSQL fails every test loudly: never a silent skip.
    c = harness.Cluster()
    yield c
    c.destroy()


@pytest.fixture(scope="session")
def bouncer(cluster):
    """PgBouncer in the pool mode of PEZ_TEST_PGBOUNCER, for the session (started only when asked for)."""
    b = harness.PgBouncer(cluster, harness.PGBOUNCER or "session")
    yield b
    b.stop()


@pytest.fixture
def db(cluster, request):
    if not cluster.running():
        cluster.start()
    empty = request.node.get_closest_marker("empty_database") is not None
    if harness.ROLES == "split":  # pezd may not migrate there: its owner did
        return cluster.create_split_database(fresh=empty)
    return cluster.create_database() if empty else cluster.create_migrated_database()


@pytest.fixture
def workdir():
    path = harness.short_tempdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start_pezd(cluster, db, workdir, request):
    """start_pezd(args=(), env=None, database=None, wait_ready=True, http=True, user=..., nofile=None)
    -> harness.Pezd"""
    started = []

    def start(args=(), env=None, database=None, wait_ready=True, http=True, user=None, nofile=None):
        user = user or (harness.APP_ROLE if harness.ROLES == "split" else "postgres")
        if harness.PGBOUNCER:
            env = {**request.getfixturevalue("bouncer").env(), **(env or {})}
        p = harness.Pezd(cluster, database or db, workdir, args=args, env=env, http=http, user=user, nofile=nofile)
        started.append(p)
        return p.start(wait_ready=wait_ready)

    yield start

    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    problems = []
    for p in started:
        if p.proc is None or p.killed:
            continue
        code = p.stop(signal.SIGTERM)
        if code not in (0, None):
            problems.append(f"{p.name} exited {code} on SIGTERM")
        if os.path.exists(p.socket) and p.proc.returncode == 0:
            problems.append(f"{p.name} left its socket file {p.socket} behind")
    if failed or problems:
        for p in started:
            print(f"\n----- log of {p.name} -----\n{p.log_text()}")
    if not cluster.running():
        cluster.start()
    assert not problems, problems


@pytest.fixture
def pezd(start_pezd):
    return start_pezd()
