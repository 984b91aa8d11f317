# SPDX-License-Identifier: Apache-2.0
"""The integration test harness: a private PostgreSQL cluster, real pezd processes, and small
clients for HTTP, the Unix socket and the pez command line. Nothing here is a mock."""

import contextlib
import http.client
import importlib.machinery
import importlib.util
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("PEZ_BUILD_DIR", os.path.join(ROOT, "build"))
PEZD = os.environ.get("PEZD", os.path.join(BUILD, "daemon", "pezd"))
PEZ = os.environ.get("PEZ", os.path.join(BUILD, "cli", "pez"))
PG_BIN = os.environ.get("PEZ_PG_BIN", "/usr/lib/postgresql/15/bin")
IS_ROOT = os.geteuid() == 0

FORWARD_MAX = 9223372036854775807

# The allocation mode every pezd of the suite runs in unless a test says otherwise: the whole
# suite runs once per mode (CTest's integration and integration_block).
MODE = os.environ.get("PEZ_TEST_MODE", "strict")
# Likewise the number of event loop threads (pezd's threads setting; its default when unset).
THREADS = os.environ.get("PEZ_TEST_THREADS", "auto")
# "session" or "transaction": the suite's pezd reach PostgreSQL through PgBouncer in that pool mode
# (CTest's integration_pgbouncer); empty: directly.
PGBOUNCER = os.environ.get("PEZ_TEST_PGBOUNCER", "")
# "split": each test database belongs to a role that is no superuser (OWNER_ROLE), which runs
# pezd migrate, and the suite's pezd connect as APP_ROLE with only the rights of sql/grants.sql
# (CTest's integration_least_privilege); empty: pezd connects as the superuser postgres.
ROLES = os.environ.get("PEZ_TEST_ROLES", "")
OWNER_ROLE = "pez_owner"
APP_ROLE = "pez_app"
SQL_DIR = os.environ.get("PEZ_SQL_DIR", os.path.join(ROOT, "sql"))


# The admin token of the tests that use HTTP /admin/ (admin_token_file, bearer).
ADMIN_TOKEN = "s3cret-token-0123456789abcdef"


def short_tempdir(prefix="pez-"):
    """A temp dir with a short path (socket paths are limited to 107 bytes) others may enter."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(path, 0o755)
    return path


def load_script(path, name):
    """A Python program without the .py ending (tests/faults/run, tests/bench/run) as a module,
    for tests of its parts; its main() does not run."""
    loader = importlib.machinery.SourceFileLoader(name, path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    loader.exec_module(module)
    return module


def next_pipelined(pezd, names, count=1):
    """NEXT for each name over one socket connection, every line sent before the first answer."""
    client = pezd.lines(timeout=60)
    client.send("".join(f"NEXT {name} {count}\n" for name in names))
    return [client.read_line() for _ in names]


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            # what may be a function: a description made when the wait fails (a log's tail then).
            raise AssertionError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


def signal_all(pids, sig):
    """Sends sig to each of pids that still exists (a process may end while the list is made)."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def children(pid):
    """The pids of the processes whose parent is pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid:
            out.append(int(entry))
    return out


def remove_in_background(path):
    """Removes the directory path in a process that nobody waits for: a test cluster's tens of
    thousands of files took 15-20 s to delete, nearly all of it waiting for the disk, at the end
    of each test process."""
    REMOVALS.append(subprocess.Popen(["rm", "-rf", "--", path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True))


REMOVALS = []  # held, so that none is reported as a process left running when its object goes


class Cluster:
    """A PostgreSQL cluster in a temp dir, Unix socket only, run as the postgres user under root.
    With standby_of, a streaming standby of that cluster, copied from it with pg_basebackup; with
    environment, variables its programs run with (such as LOCPATH for a locale of the test's own)."""

    def __init__(self, settings=None, standby_of=None, environment=None):
        for program in ("initdb", "pg_ctl", "psql", "postgres", "pg_basebackup"):
            if not os.access(os.path.join(PG_BIN, program), os.X_OK):
                raise RuntimeError(
                    f"PostgreSQL is missing: {PG_BIN}/{program} not found. Install postgresql-15 "
                    f"(scripts/setup-deps) or set PEZ_PG_BIN; the integration tests need a real server.")
        self.base = short_tempdir("pez-pg-")
        self.dir = self.base  # the socket directory
        self.port = int((settings or {}).get("port", 5432))  # names the socket file too
        self.data = os.path.join(self.base, "data")
        self.log = os.path.join(self.base, "postgres.log")
        self.environment = dict(environment or {})
        if IS_ROOT:
            shutil.chown(self.base, "postgres", "postgres")
        if standby_of is None:
            self._as_postgres([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                               "--no-sync", "--no-instructions"])
        else:
            # -R: standby.signal, and primary_conninfo pointing at the primary's socket.
            self._as_postgres([os.path.join(PG_BIN, "pg_basebackup"), "-D", self.data, "-h", standby_of.dir,
                               "-U", "postgres", "-R", "-X", "stream", "--no-sync", "--checkpoint=fast"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write("listen_addresses = ''\n")
            conf.write(f"unix_socket_directories = '{self.dir}'\n")
            conf.write("max_connections = 200\n")
            # The tests stop and kill PostgreSQL's processes, never the machine: what a commit
            # wrote is in the kernel's cache and survives them whether or not it was flushed to
            # the disk. Flushing (each commit, each checkpoint, every file of each database copied)
            # only made the tests wait. The benchmark's durable anchors set fsync on again.
            conf.write("fsync = off\n")
            # Only with fsync on (the benchmark's cluster) does crash recovery (after an immediate
            # stop or kill -9) first sync the data directory: then one syncfs rather than an fsync
            # per file of every database, which took over a minute on a busy machine.
            conf.write("recovery_init_sync_method = syncfs\n")
            for key, value in (settings or {}).items():
                conf.write(f"{key} = {value}\n")
        self.databases = 0
        self.templates = {}  # "plain" or "split": the database that create_*_database copies
        self.start()

    def _as_postgres(self, argv, check=True):
        if self.environment:
            argv = ["env", *(f"{key}={value}" for key, value in self.environment.items())] + argv
        if IS_ROOT:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        return subprocess.run(argv, check=check, capture_output=True, text=True)

    def pg_ctl(self, *args, check=True):
        return self._as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.data, "-l", self.log, *args],
                                 check=check)

    def start(self):
        # After a crash (immediate stop) PostgreSQL replays the WAL since its last checkpoint,
        # which takes long on a busy machine: wait up to 5 minutes, not pg_ctl's 60 s.
        r = self.pg_ctl("-w", "-t", "300", "start", check=False)
        if r.returncode != 0:
            with open(self.log) as f:
                tail = f.read()[-3000:]
            raise AssertionError(f"PostgreSQL did not start: {r.stdout}{r.stderr}\n--- {self.log} ---\n{tail}")

    def stop(self, mode="immediate"):
        # A clean stop writes a checkpoint first, which on a busy machine with many sequences
        # (a file each) takes longer than pg_ctl's 60 s: wait as long as start does.
        self.pg_ctl("-w", "-t", "300", "-m", mode, "stop", check=False)

    def promote(self):
        self.pg_ctl("-w", "promote")

    def postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def pids(self):
        """The postmaster and every process it started."""
        postmaster = self.postmaster_pid()
        return [postmaster, *children(postmaster)]

    def crash(self):
        """kill -9 of every PostgreSQL process at once: all are stopped first, so that none
        writes or flushes anything while the others die."""
        pids = self.pids()
        signal_all(pids, signal.SIGSTOP)
        signal_all(pids, signal.SIGKILL)
        # Until they are reaped, too: PostgreSQL refuses to start while its old pid still exists.
        wait_until(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in pids), 10,
                   what="PostgreSQL's processes to die")

    def running(self):
        """Whether the postmaster is up: what pg_ctl status looks at (its pid file and process),
        without a runuser and a pg_ctl for each of the two calls a test makes."""
        try:
            os.kill(self.postmaster_pid(), 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return False
        return True

    def psql_command(self, db, user="postgres"):
        """psql's command line for db as user, stopping at the first error, rows unaligned."""
        return [os.path.join(PG_BIN, "psql"), "-h", self.dir, "-p", str(self.port), "-U", user, "-d", db,
                "-v", "ON_ERROR_STOP=1", "-Atq"]

    def psql(self, db, sql, user="postgres", check=True, timeout=120):
        try:
            result = subprocess.run(self.psql_command(db, user) + ["-c", sql], capture_output=True, text=True,
                                    timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"psql did not finish within {timeout}s: {sql}") from None
        if check and result.returncode != 0:
            raise AssertionError(f"psql failed: {sql}\n{result.stderr}")
        return result.stdout.strip() if check else result

    def log_size(self):
        """Where the server's log ends now: what log_since reads from."""
        return os.path.getsize(self.log)

    def log_since(self, offset):
        """What the server wrote to its log after offset (log_size)."""
        with open(self.log, errors="replace") as f:
            f.seek(offset)
            return f.read()

    def create_database(self, owner="postgres", options="", template=None):
        """An empty database (a copy of template1), or with template a copy of that database;
        options: more of CREATE DATABASE's, such as ENCODING."""
        self.databases += 1
        name = f"t{os.getpid()}_{self.databases}"
        # FILE_COPY copies the template's files (with a checkpoint before and after) where the
        # default, WAL_LOG, writes all of it to the WAL again: the less CPU of the two, and the
        # tests make over a thousand databases a run.
        copy = f'TEMPLATE "{template}" ' if template else ""
        self.psql("postgres", f'CREATE DATABASE "{name}" OWNER "{owner}" {copy}STRATEGY FILE_COPY {options}')
        return name

    def migrate(self, database, role):
        """pezd migrate in database as role."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_") and not k.startswith("PG")}
        env.update(PEZ_CONFIG="", PGHOST=self.dir, PGPORT=str(self.port), PGUSER=role, PGDATABASE=database)
        migrated = subprocess.run([PEZD, "migrate"], env=env, capture_output=True, text=True, timeout=60)
        assert migrated.returncode == 0, f"pezd migrate as {role} failed: {migrated.stderr}"

    def create_migrated_database(self):
        """A database with the schema pezd makes at its first start, as if a pezd had started in
        it and stopped before any number was taken: a copy of one migrated once per cluster (the
        migrations cost more than the copy). A test of the first start takes an empty database."""
        if "plain" not in self.templates:
            name = self.create_database()
            self.migrate(name, "postgres")
            self.templates["plain"] = name
        return self.create_database(template=self.templates["plain"])

    def create_split_database(self, options="", fresh=False):
        """A database that OWNER_ROLE (no superuser) owns and migrated with pezd migrate, and
        where APP_ROLE has just the rights of sql/grants.sql: a copy of one made so once per
        cluster, or with options or fresh made so from an empty one."""
        for role, rights in ((OWNER_ROLE, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"), (APP_ROLE, "LOGIN NOSUPERUSER")):
            self.psql("postgres", f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
                                  f"THEN CREATE ROLE {role} {rights}; END IF; END $$")
        if not options and not fresh:
            if "split" not in self.templates:
                self.templates["split"] = self.create_split_database(fresh=True)
            return self.create_database(owner=OWNER_ROLE, template=self.templates["split"])
        name = self.create_database(owner=OWNER_ROLE, options=options)
        self.migrate(name, OWNER_ROLE)
        result = subprocess.run([os.path.join(PG_BIN, "psql"), "-h", self.dir, "-p", str(self.port), "-U", OWNER_ROLE,
                                 "-d", name, "-v", "ON_ERROR_STOP=1", "-v", f"pezd={APP_ROLE}", "-q", "-f",
                                 os.path.join(SQL_DIR, "grants.sql")], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"grants.sql failed: {result.stderr}"
        return name

    @contextlib.contextmanager
    def transaction_left_open(self, db, statements, locks):
        """A psql session in db that runs BEGIN and statements and stays in that transaction, as
        an operator's left open would, until the with block ends; then it rolls back. Waits until
        the session holds a lock (other than ACCESS SHARE) on the relation locks."""
        # Its locks are told apart from pezd's by its application_name.
        session = subprocess.Popen(self.psql_command(db), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "PGAPPNAME": "transaction_left_open"})
        try:
            session.stdin.write(f"BEGIN;\n{statements}\n")
            session.stdin.flush()
            held = ("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = "
                    f"'transaction_left_open' AND l.granted AND l.mode <> 'AccessShareLock' AND l.relation = "
                    f"'{locks}'::regclass")

            def holds():
                if session.poll() is not None:
                    raise AssertionError(f"psql ended before it held the lock ({statements}): {session.stderr.read()}")
                return self.psql(db, held) != "0"
            wait_until(holds, 10, what=f"the open transaction's lock on {locks} ({statements})")
            yield
        finally:
            try:
                session.stdin.write("ROLLBACK;\n")
                session.stdin.close()
            except BrokenPipeError:
                pass
            try:
                session.wait(timeout=30)
            finally:
                if session.poll() is None:
                    session.kill()
                    session.wait()

    def destroy(self):
        self.stop()
        remove_in_background(self.base)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgBouncer:
    """Debian's PgBouncer in front of a cluster's Unix socket, on a loopback port, in a temp dir, as
    the postgres user, in pool_mode session or transaction. Every database name maps to the
    cluster's database of that name."""

    def __init__(self, cluster, pool_mode, pool_size=4):
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not os.access(binary, os.X_OK):
            raise RuntimeError("PgBouncer is missing: install pgbouncer (scripts/setup-deps); the tests of pooled "
                               "PostgreSQL need a real one")
        self.dir = short_tempdir("pez-pgb-")
        self.port = free_port()
        self.log = os.path.join(self.dir, "pgbouncer.log")
        with open(os.path.join(self.dir, "users.txt"), "w") as f:
            f.write('"postgres" ""\n')
        self.cluster_dir = cluster.dir
        self.pool_size = pool_size
        config = self.config = os.path.join(self.dir, "pgbouncer.ini")
        self._write_config(pool_mode)
        if IS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")
            for name in ("users.txt", "pgbouncer.ini"):
                shutil.chown(os.path.join(self.dir, name), "postgres", "postgres")
        self.proc = subprocess.Popen([binary, config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     user="postgres" if IS_ROOT else None, group="postgres" if IS_ROOT else None)

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError(f"pgbouncer exited {self.proc.returncode}: {self.log_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
            return False

        wait_until(listening, 15, what="PgBouncer to listen")

    def _write_config(self, pool_mode):
        with open(self.config, "w") as f:
            f.write(f"""[databases]
* = host={self.cluster_dir}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir}/users.txt
pool_mode = {pool_mode}
default_pool_size = {self.pool_size}
max_client_conn = 500
server_login_retry = 1
# Each test has a database of its own, so a pool of its own: let idle server connections go.
server_idle_timeout = 2
ignore_startup_parameters = extra_float_digits
logfile = {self.log}
""")

    def set_pool_mode(self, pool_mode):
        """Reloads the configuration with another pool_mode (SIGHUP), as an operator would; the
        clients connected stay, and their next transactions are pooled the new way."""
        reloads = self.log_text().count("SIGHUP")
        self._write_config(pool_mode)
        self.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: self.log_text().count("SIGHUP") > reloads, 10, what="PgBouncer to reload")

    def env(self):
        """What a pezd's environment needs to reach the database through it."""
        return {"PGHOST": "127.0.0.1", "PGPORT": str(self.port)}

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body!r}>"


def http_request(address, method, path, headers=None, body=None, timeout=15):
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read().decode()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def keep_alive_load(address, stop, answered, problem, target="/v2/forward?count=5", timeout=10, pause=0.0,
                    retry_pause=0.0):
    """Asks pezd at address for target again and again over one keep-alive HTTP connection until
    stop (a threading.Event) is set; a connection that fails is replaced by a new one.
    answered(response, body, start, end) hears each answer (the times from time.monotonic());
    problem(error) each failure to get one, after which the loop waits retry_pause. It waits
    pause after each answer."""
    host, port = address.rsplit(":", 1)
    conn = None
    try:
        while not stop.is_set():
            start = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
                conn.request("GET", target)
                r = conn.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException) as e:
                problem(e)
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(retry_pause)
                continue
            answered(r, body, start, time.monotonic())
            time.sleep(pause)
    finally:
        if conn is not None:
            conn.close()


def raw_exchange(address, data, read_until_close=True, timeout=10):
    """Sends raw bytes over HTTP's TCP port and returns what comes back until pezd closes."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        if read_until_close:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks).decode()


def take_responses(data):
    """The whole HTTP responses (each with Content-Length) at the start of data (bytes), as
    (status, body), and what follows them: a response not yet whole, or nothing."""
    out = []
    while b"\r\n\r\n" in data:
        head, rest = data.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"(?im)^content-length: (\d+)\r?$", head).group(1))
        if len(rest) < length:
            break
        out.append((int(head.split(b" ", 2)[1]), rest[:length].decode()))
        data = rest[length:]
    return out, data


def split_responses(text):
    """Splits concatenated HTTP responses (each with Content-Length) into (status, body)."""
    out, rest = take_responses(text.encode())
    assert not rest, f"not a whole response: {rest!r}"
    return out


def read_responses(s, count):
    """Reads from the socket s until count whole HTTP responses have come; nothing may follow."""
    answers, rest = [], b""
    while True:
        more, rest = take_responses(rest)
        answers += more
        if len(answers) >= count:
            assert len(answers) == count and not rest, (answers[count:], rest)
            return answers
        chunk = s.recv(65536)
        assert chunk, f"closed after {len(answers)} answers and {rest!r}"
        rest += chunk


def documented_metrics():
    """The metric families pezd(8) documents in its section Metrics, each with its labels."""
    with open(os.path.join(ROOT, "man", "pezd.8")) as f:
        page = f.read()
    section = page.split(".Ss Metrics", 1)[1].split(".Ss ", 1)[0]
    # ".It Li pez_numbers_total Brq Li sequence", ".It Li pez_requests_total Brq Li transport=..., code"
    families = {}
    for m in re.finditer(r"^\.It Li (pez_[a-z_]+)(?: Brq (.*))?$", section, re.M):
        labels = {re.match(r"\s*(?:Li )?([a-z_]+)", part).group(1) for part in (m.group(2) or "").split(",")
                  if part.strip()}
        families.setdefault(m.group(1), set()).update(labels)
    return families


def metric(text, name, labels=""):
    """The value of one sample of a Prometheus text page (0 when it is not there)."""
    pattern = re.escape(name + ("{" + labels + "}" if labels else "")) + r" ([-+0-9.eInf]+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


class LineClient:
    """A connection to pezd's Unix socket speaking the line protocol."""

    def __init__(self, path, timeout=15):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buffer = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def read_line(self):
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed; unread: {self.buffer!r}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def ask(self, line):
        self.send(line + "\n")
        return self.read_line()

    def closed_by_peer(self, timeout=5):
        """True when the server closes the connection (after any pending answers) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class NotifySocket:
    """Stands in for systemd's notify socket: collects what pezd sends to NOTIFY_SOCKET, one
    datagram per notice, each a dict of its KEY=value lines."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.settimeout(0.1)
        self.notices = []

    def poll(self):
        """Reads what has arrived; returns every notice so far."""
        try:
            while True:
                data = self.sock.recv(4096).decode()
                self.notices.append(dict(line.split("=", 1) for line in data.splitlines() if "=" in line))
        except (socket.timeout, BlockingIOError):
            pass
        return self.notices

    def wait_for(self, key, timeout=20, after=0):
        """Waits for a notice with key among those from index after on; returns its index + 1 (so
        that after=wait_for(...) waits for a later one)."""
        def found():
            self.poll()
            for i, notice in enumerate(self.notices[after:], start=after):
                if key in notice:
                    return i + 1
            return None
        return wait_until(found, timeout, what=f"{key} on NOTIFY_SOCKET (got {self.notices})")

    def keys(self, start=0):
        self.poll()
        return [key for notice in self.notices[start:] for key in notice]

    def close(self):
        self.sock.close()


class Pezd:
    """One real pezd process with its own socket and an HTTP port chosen by the kernel."""

    count = 0

    def __init__(self, cluster, database, workdir, args=(), env=None, http=True, user="postgres", nofile=None):
        Pezd.count += 1
        self.cluster = cluster
        self.database = database
        self.workdir = workdir
        self.name = f"pezd{Pezd.count}"
        self.socket = os.path.join(workdir, f"{self.name}.sock")
        self.log_path = os.path.join(workdir, f"{self.name}.log")
        self.args = list(args)
        self.http_enabled = http
        self.env = dict(os.environ)
        for key in list(self.env):
            if key.startswith("PEZ_") or key.startswith("PG"):
                del self.env[key]
        self.env.update(PEZ_CONFIG="", PGHOST=cluster.dir, PGPORT=str(cluster.port), PGUSER=user, PGDATABASE=database)
        if env:
            self.env.update(env)
        self.proc = None
        self.address = None
        self.killed = False
        self.http_port = 0
        self.nofile = nofile  # the open-file limit (soft and hard) to run pezd under

    def command(self):
        argv = [PEZD, "--socket", self.socket, "--log-level", "debug", "--mode", MODE, "--threads", THREADS]
        if self.http_enabled:
            argv += ["--http", f"127.0.0.1:{self.http_port}"]
        return argv + self.args

    def start(self, wait_ready=True):
        self.log = open(self.log_path, "a")
        self.log_offset = os.path.getsize(self.log_path)
        limit = None
        if self.nofile:
            limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env, preexec_fn=limit)
        self.killed = False
        if self.http_enabled:
            match = wait_until(lambda: self._exited_check() or re.search(r"http listening on (\S+)", self.new_log()),
                               15, what=lambda: f"{self.name} to listen\n{self.log_text()}")
            self.address = match.group(1)
            self.http_port = int(self.address.rsplit(":", 1)[1])
        else:
            wait_until(lambda: self._exited_check() or os.path.exists(self.socket), 15,
                       what=lambda: f"{self.name} to listen\n{self.log_text()}")
        if wait_ready:
            self.wait_ready()
        return self

    def _exited_check(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_text()}")
        return None

    def wait_ready(self, timeout=20):
        last = {"readyz": "nothing"}

        def ready():
            self._exited_check()
            if not self.http_enabled:
                return "database up" in self.new_log()
            try:
                r = self.get("/readyz")
            except OSError as e:
                last["readyz"] = repr(e)
                return False
            last["readyz"] = f"{r.status} {r.body.strip()}"
            return r.status == 200
        # The log as it is when the wait fails.
        wait_until(ready, timeout, what=lambda: f"{self.name} to be ready (/readyz last answered: {last['readyz']})\n"
                                                f"{self.log_text()}")

    def new_log(self):
        with open(self.log_path, errors="replace") as f:
            f.seek(self.log_offset)
            return f.read()

    def log_text(self):
        # A byte that is no UTF-8 shows as U+FFFD (test_server_language.py reads the bytes).
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def get(self, path, method="GET", headers=None, body=None, timeout=15):
        return http_request(self.address, method, path, headers, body, timeout)

    def numbers(self, name="forward", count=None):
        path = f"/v2/{name}" + (f"?count={count}" if count is not None else "")
        r = self.get(path)
        assert r.status == 200, r
        return r.json()

    def lines(self, timeout=15):
        return LineClient(self.socket, timeout)

    def pez(self, *args, env=None, timeout=30, binary=None):
        return run_pez(list(args), socket_path=self.socket, env=env, timeout=timeout, binary=binary)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.close()

    def kill9(self):
        self.killed = True
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def restart(self):
        """Starts again with the same socket and HTTP port."""
        return self.start()


@contextlib.contextmanager
def logs_on_failure(*daemons):
    """For pezd started outside the start_pezd fixture: prints their logs when the block fails,
    and kills any still running when it ends."""
    try:
        yield
    except BaseException:
        for d in daemons:
            if d.proc is not None:
                print(f"\n----- log of {d.name} -----\n{d.log_text()}")
        raise
    finally:
        for d in daemons:
            if d.proc is not None and d.proc.poll() is None:
                d.proc.kill()


def admin_token_file(workdir, token=ADMIN_TOKEN):
    """A token file for pezd's admin_token_file, as an administrator writes one (mode 600)."""
    path = os.path.join(workdir, "admin-token")
    with open(path, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    return path


def bearer(token=ADMIN_TOKEN):
    """The header that authorises an HTTP /admin/ request with token."""
    return {"Authorization": f"Bearer {token}"}


def run_pez(args, socket_path=None, env=None, timeout=30, binary=None, user=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PEZ_")}
    if socket_path is not None:
        full_env["PEZ_SOCKET"] = socket_path
    if env:
        full_env.update(env)
    argv = [binary or PEZ] + list(args)
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    return subprocess.run(argv, capture_output=True, text=True, env=full_env, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def assert_one_error_line(result, exit_code, contains=None):
    """A pez failure: the documented exit code, nothing on stdout, one 'pez: error:' line."""
    assert result.returncode == exit_code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pez: error: "), result.stderr
    if contains:
        assert contains in lines[0], result.stderr
