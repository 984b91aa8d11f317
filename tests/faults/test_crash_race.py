# SPDX-License-Identifier: Apache-2.0
"""The concurrent crash race of DESIGN §1, reproduced.

PostgreSQL logs a sequence ahead: a nextval() that has to write WAL writes a record for the next
32 values at once, and the nextval() calls of other sessions take values from that range writing
no WAL of their own. If the session that logged ahead has not committed, nothing has flushed its
record, and a crash of PostgreSQL loses it: the sequence comes back from before the range, and
values handed out from it come again. A bare autocommit nextval() therefore hands out numbers
twice after such a crash; pezd, whose every exchange writes and flushes WAL of its own before it
answers, never does.

The cluster here keeps WAL in memory as long as it can (the WAL writer is stopped with SIGSTOP
once the race begins, so that only a commit that waits for its own flush reaches the disk; the
background writer writes no pages; no autovacuum; a checkpoint just before), so the race is
deterministic, and the crash is kill -9 of every PostgreSQL process at once."""

import contextlib
import select
import shutil
import signal
import subprocess

import pytest

import harness

RACE_SETTINGS = {
    "bgwriter_lru_maxpages": "0",
    "autovacuum": "off",
    "checkpoint_timeout": "'1h'",
}


@pytest.fixture(scope="module")
def race_cluster_of_module():
    c = harness.Cluster(settings=RACE_SETTINGS)
    yield c
    c.destroy()


@pytest.fixture
def race_cluster(race_cluster_of_module):
    """The module's cluster, running (a test that failed mid-crash may have left it stopped)."""
    if not race_cluster_of_module.running():
        race_cluster_of_module.start()
    return race_cluster_of_module


class Session:
    """One psql session kept open, so that a transaction can stay uncommitted across steps."""

    def __init__(self, cluster, database):
        self.proc = subprocess.Popen(
            [f"{harness.PG_BIN}/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", cluster.dir,
             "-U", "postgres", "-d", database],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, sql, timeout=10):
        self.proc.stdin.write(sql + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"psql did not answer {sql!r} within {timeout}s"
        return self.proc.stdout.readline().strip()

    def close(self):
        self.proc.kill()
        self.proc.wait()


@contextlib.contextmanager
def prelogged_nextval_held(cluster, database, sequence):
    """Session A: a checkpoint, so that its nextval() must log ahead, then that nextval() in a
    transaction left open; yields its number. Meanwhile the WAL writer is stopped: nothing
    flushes WAL in the background (an asynchronous commit wakes it to do so within milliseconds).
    Whatever happens, the WAL writer goes on and A is closed at the end (the crash ends both)."""
    cluster.psql(database, "CHECKPOINT")
    a = Session(cluster, database)
    walwriter = []
    try:
        assert a.ask("BEGIN; SELECT 'begun';") == "begun"
        first = int(a.ask(f"SELECT nextval('{sequence}');"))
        walwriter.append(int(cluster.psql("postgres", "SELECT pid FROM pg_stat_activity "
                                                      "WHERE backend_type = 'walwriter'")))
        harness.signal_all(walwriter, signal.SIGSTOP)
        yield first
    finally:
        harness.signal_all(walwriter, signal.SIGCONT)
        a.close()


def test_a_bare_nextval_hands_out_numbers_again_after_the_crash(race_cluster):
    # The hazard itself, without pezd: if this did not happen, the tests below would prove nothing.
    database = race_cluster.create_database()
    race_cluster.psql(database, "CREATE SEQUENCE race_control")
    with prelogged_nextval_held(race_cluster, database, "race_control") as first:
        handed_out = [first]
        for _ in range(10):  # session B: autocommit, each in a session of its own, as a script would
            handed_out.append(int(race_cluster.psql(database, "SELECT nextval('race_control')")))
        assert handed_out == list(range(first, first + 11))
        race_cluster.crash()
    race_cluster.start()
    after = [int(race_cluster.psql(database, "SELECT nextval('race_control')")) for _ in range(11)]
    again = sorted(set(handed_out) & set(after))
    assert again, f"the crash did not bring back numbers of a bare nextval (before {handed_out}, after {after})"


def first_served(pezd, count):
    """The numbers of the first answer with numbers, waiting past 503 answers (a database that
    has just come back)."""
    def served():
        r = pezd.get(f"/v2/forward?count={count}")
        assert r.status in (200, 503), r
        return r.json() if r.status == 200 else None
    return harness.wait_until(served, timeout=30, interval=0.2, what="pezd to serve again")


def race_pezd(race_cluster, database, mode, args=(), env=None):
    """pezd takes numbers from the range a held nextval logged ahead; then PostgreSQL crashes; no
    number may come again."""
    workdir = harness.short_tempdir()
    args = ["--mode", mode, "--request-timeout", "2s"] + list(args)
    if mode == "block":
        args += ["--block-min", "1", "--block-max", "4"]  # a reserve every few numbers
    pezd = harness.Pezd(race_cluster, database, workdir, args=args, env=env)
    with harness.logs_on_failure(pezd):
        pezd.start()
        handed_out = pezd.numbers("forward", 3)
        with prelogged_nextval_held(race_cluster, database, "pez.forward") as first:
            # pezd takes numbers from the range session A logged ahead and did not commit.
            for _ in range(10):
                handed_out += pezd.numbers("forward", 2)
            handed_out.append(int(harness.run_pez(["forward"], socket_path=pezd.socket).stdout))
            assert first not in handed_out
            if mode == "strict":
                # Each from the range session A logged ahead: none of these exchanges needed a
                # record of the sequence itself.
                assert all(first < n <= first + 32 for n in handed_out[3:]), handed_out
            race_cluster.crash()
        race_cluster.start()
        pezd.wait_ready()  # reconnected (block mode may serve what it reserved before meanwhile)
        # Through a pooler pezd is connected again at once, but the pooler may refuse to log in to
        # the restarted server for a while (server_login_retry): unavailable meanwhile, nothing else.
        after = first_served(pezd, 10) + pezd.numbers("forward", 10)
        assert not set(after) & set(handed_out), f"handed out again: {sorted(set(after) & set(handed_out))}"
        assert min(after) > max(handed_out)
        last = int(race_cluster.psql(database, "SELECT last_value FROM pez.forward"))
        assert last >= max(handed_out)
        assert pezd.stop() == 0
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("mode", ["strict", "block"])
def test_pezd_never_hands_out_a_number_again_after_the_crash(race_cluster, mode):
    race_pezd(race_cluster, race_cluster.create_database(), mode)


@pytest.fixture(scope="module")
def async_race_cluster_of_module():
    c = harness.Cluster(settings={**RACE_SETTINGS, "synchronous_commit": "off"})
    yield c
    c.destroy()


@pytest.mark.parametrize("mode", ["strict", "block"])
def test_behind_a_transaction_pooler_on_a_server_with_synchronous_commit_off(async_race_cluster_of_module, mode):
    # Whatever the server's default and whichever server connection PgBouncer picks, each taking
    # transaction turns synchronous_commit on for itself (sql/006). Block mode hears its notices on
    # a direct connection (listen_database_url).
    cluster = async_race_cluster_of_module
    if not cluster.running():
        cluster.start()
    database = cluster.create_database()
    bouncer = harness.PgBouncer(cluster, "transaction", pool_size=2)
    try:
        race_pezd(cluster, database, mode, ["--listen-database-url", f"host={cluster.dir} port={cluster.port} dbname={database}"],
                  env=bouncer.env())
    finally:
        bouncer.stop()
