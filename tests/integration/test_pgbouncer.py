# SPDX-License-Identifier: Apache-2.0
"""pezd behind PgBouncer in transaction mode (Debian's pgbouncer, started here on a loopback port):
only unnamed statements, durability set in each taking transaction, and change notices, which such
a pooler does not pass, proven on every connection that listens. (The HTTP and socket basics run
through PgBouncer in session mode too: CTest's integration_pgbouncer.)"""

import json
import re
import time

import pytest

from harness import PgBouncer, wait_until

pytestmark = pytest.mark.strict_only  # each test says its modes


@pytest.fixture
def pgbouncer(cluster):
    """Starts PgBouncers in front of the cluster (pool_mode, pool_size), each stopped when the test
    ends, whatever happens."""
    started = []

    def start(pool_mode, pool_size=4):
        started.append(PgBouncer(cluster, pool_mode, pool_size=pool_size))
        return started[-1]

    yield start
    for b in started:
        b.stop()


@pytest.fixture
def transaction_pooler(pgbouncer):
    return pgbouncer("transaction", pool_size=3)


def direct(cluster, database):
    """A connection string straight to the cluster, bypassing the pooler."""
    return f"host={cluster.dir} port={cluster.port} dbname={database}"


def test_strict_mode_works_and_block_mode_refuses_without_notices(start_pezd, transaction_pooler):
    strict = start_pezd(["--mode", "strict"], env=transaction_pooler.env())
    assert strict.numbers("forward", 3) == [1, 2, 3]
    assert strict.get("/readyz").status == 200
    wait_until(lambda: "change notices do not reach" in strict.log_text(), 10, what="the log line")

    block = start_pezd(["--mode", "block"], env=transaction_pooler.env(), wait_ready=False)
    wait_until(lambda: "listen_database_url" in block.get("/readyz").body, 15,
               what="block mode to say why it is not ready")
    assert block.get("/readyz").status == 503
    r = block.get("/v1/forward")
    assert r.status == 503 and "change notices" in r.json()["error"], r
    status = json.loads(block.pez("status", "--json").stdout)
    assert "listen_database_url" in status["database"]["notices"]
    # A sequence in strict mode is served by the same daemon.
    r = block.pez("admin", "create", "tickets", "--mode", "strict")
    assert r.returncode == 0, r.stderr
    assert block.numbers("tickets", 2) == [1, 2]


def test_block_mode_serves_behind_a_session_pool_without_room_for_a_probes_own_connection(start_pezd, pgbouncer):
    # In session mode each of pezd's connections holds a server connection of the pool: with
    # none left, a connection opened for the probe cannot send its notice, which proves nothing of
    # whether notices arrive (here they do). Probed again, each connection has the other send it.
    pooler = pgbouncer("session", pool_size=2)
    block = start_pezd(["--mode", "block", "--db-connections", "2"], env=pooler.env(), wait_ready=False)
    wait_until(lambda: "a probe could not send one" in block.log_text(), 30, what="the first probes to fail")
    block.wait_ready(timeout=30)
    assert block.numbers("forward", 2) == [1, 2]
    log = block.log_text()
    assert "change notices reach the database connection" in log, log
    assert "change notices do not reach" not in log, log
    block.stop()


def test_block_mode_serves_once_a_probe_again_hears_the_notice_that_did_not_arrive(start_pezd, transaction_pooler):
    # A connection whose probe's notice was sent and did not arrive (through a transaction pooler
    # here; a notice late from a server briefly overloaded looks the same) is probed again now and
    # then by a daemon serving block mode: once notices arrive (the pool switched to session mode),
    # block mode serves, without the connection being opened again.
    block = start_pezd(["--mode", "block", "--db-connections", "1"], env=transaction_pooler.env(), wait_ready=False)
    wait_until(lambda: "change notices do not reach" in block.log_text(), 15, what="the probe to fail")
    assert "probed again now and then" in block.log_text(), block.log_text()
    # Once its set-up is over, /readyz says why it is not ready, and that the connection is probed again.
    wait_until(lambda: "listen_database_url" in block.get("/readyz").body, 15, what="/readyz to say why")
    ready = block.get("/readyz")
    assert ready.status == 503 and "probed again now and then" in ready.body, ready
    transaction_pooler.set_pool_mode("session")
    # The first probe again comes 5 to 15 s after the failure, the next 10 to 30 s after it.
    block.wait_ready(timeout=60)
    assert block.numbers("forward", 2) == [1, 2]
    log = block.log_text()
    assert re.search(r"change notices reach the database connection to \S+ now", log), log
    assert log.count("database up") == 1, log
    block.stop()


def test_strict_mode_does_not_probe_again_a_connection_whose_notice_did_not_arrive(start_pezd, transaction_pooler):
    # Behind a transaction pooler strict mode needs no notices: a probe again would only hold a
    # connection for seconds each time, so none is run.
    strict = start_pezd(["--mode", "strict", "--db-connections", "1", "--log-level", "debug"],
                        env=transaction_pooler.env())
    wait_until(lambda: "change notices do not reach" in strict.log_text(), 15, what="the probe to fail")
    assert "probed again" not in strict.log_text(), strict.log_text()
    transaction_pooler.set_pool_mode("session")
    # Past the first probe again of a daemon serving block mode (5 to 15 s).
    deadline = time.monotonic() + 16
    while time.monotonic() < deadline:
        assert strict.numbers("forward", 1)
        time.sleep(0.5)
    log = strict.log_text()
    assert "change notices reach the database connection" not in log and "still do not reach" not in log, log
    strict.stop()


def test_strict_mode_probes_again_once_a_sequence_served_in_block_mode_is_asked_for(start_pezd, transaction_pooler):
    # A sequence of its own in block mode needs notices in a daemon serving strict mode: from the
    # first request for it on, a connection whose notice did not arrive is probed again, at once
    # and then now and then, and the sequence is served once notices arrive.
    strict = start_pezd(["--mode", "strict", "--db-connections", "1", "--log-level", "debug"],
                        env=transaction_pooler.env())
    wait_until(lambda: "change notices do not reach" in strict.log_text(), 15, what="the probe to fail")
    r = strict.pez("admin", "create", "batches", "--mode", "block")
    assert r.returncode == 0, r.stderr
    assert "probed again" not in strict.log_text(), strict.log_text()
    r = strict.get("/v1/batches")
    # The first refusal already says that the connection is probed again (no restart is needed).
    assert r.status == 503 and "change notices" in r.json()["error"], r
    assert "probed again now and then" in r.json()["error"], r
    assert re.search(r"a sequence served in block mode was asked for, and change notices did not reach the "
                     r"database connection to \S+: it is probed again now", strict.log_text()), strict.log_text()
    # The probe at once finds the transaction pool still.
    wait_until(lambda: "change notices still do not reach" in strict.log_text(), 15, what="the probe again to fail")
    transaction_pooler.set_pool_mode("session")
    # The next probe again comes 5 to 15 s after that one, the one after it 10 to 30 s later.
    wait_until(lambda: strict.get("/v1/batches").status == 200, 60, interval=0.5, what="batches to be served")
    assert strict.numbers("forward", 2) == [1, 2]
    log = strict.log_text()
    assert re.search(r"change notices reach the database connection to \S+ now", log), log
    assert log.count("database up") == 1, log
    strict.stop()


@pytest.mark.parametrize("mode", ["strict", "block"])
def test_a_reset_reaches_a_daemon_behind_the_pooler_through_listen_database_url(start_pezd, cluster, db,
                                                                                   transaction_pooler, mode):
    pooled = start_pezd(["--mode", mode, "--listen-database-url", direct(cluster, db)],
                        env=transaction_pooler.env())
    other = start_pezd(["--mode", mode])
    assert pooled.get("/readyz").status == 200
    first = pooled.numbers("forward", 2)
    assert first == [1, 2]
    r = other.pez("admin", "reset", "forward", "--to", "1000000000")
    assert r.returncode == 0, r.stderr
    # The notice reaches the pooled daemon on its direct connection: what it reserved goes.
    wait_until(lambda: pooled.numbers("forward", 1)[0] >= 1000000000, 10, what="the reset to reach it")
    assert "change notices do not reach" not in pooled.log_text()


def test_durability_is_set_in_each_take_behind_the_pooler(start_pezd, cluster, db, transaction_pooler):
    # A role whose default is synchronous_commit = off: a take still commits with it on.
    cluster.psql(db, "ALTER ROLE postgres IN DATABASE \"%s\" SET synchronous_commit = off" % db)
    try:
        pezd = start_pezd(["--mode", "strict"], env=transaction_pooler.env())
        assert pezd.numbers("forward", 1) == [1]
        setting = cluster.psql(db, "BEGIN; SELECT pez.take('pez.forward', 1); "
                                   "SELECT current_setting('synchronous_commit'); COMMIT;").splitlines()
        assert setting[-1] == "on", setting
    finally:
        cluster.psql(db, "ALTER ROLE postgres IN DATABASE \"%s\" RESET synchronous_commit" % db)


def test_a_sql_ascii_database_is_read_as_stored_on_every_pooled_connection(start_pezd, cluster, pgbouncer):
    # With a SQL_ASCII server pezd sets client_encoding to SQL_ASCII after connecting (pezd(8));
    # PgBouncer in transaction mode hands each transaction any server connection, so the setting
    # must follow the client: three daemons over two server connections all get the stored bytes
    # (a server connection left at UTF8 would refuse the byte, 22021, instead).
    database = cluster.create_split_database(options="ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
                                                     "TEMPLATE template0")
    cluster.psql(database, "CREATE OR REPLACE FUNCTION pez.take(seq regclass, n integer) RETURNS SETOF bigint "
                           "LANGUAGE plpgsql AS $$ BEGIN IF seq = 'pez.reverse'::regclass THEN RAISE EXCEPTION USING "
                           "ERRCODE = 'invalid_parameter_value', MESSAGE = E'nicht f\\xfcr dich'; END IF; "
                           "RETURN QUERY SELECT nextval(seq) FROM generate_series(1, n); END $$")
    pooler = pgbouncer("transaction", pool_size=2)
    daemons = [start_pezd(["--mode", "strict"], database=database, env=pooler.env()) for _ in range(3)]
    taken = []
    for _ in range(3):
        for pezd in daemons:
            taken += pezd.numbers("forward", 2)
            r = pezd.get("/v1/reverse")  # read as UTF-8
            assert r.status == 400 and r.json()["error"] == "nicht f\ufffdr dich", r
    assert sorted(taken) == list(range(1, 19)), taken
