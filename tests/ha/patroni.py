# SPDX-License-Identifier: Apache-2.0
"""A real Patroni cluster on this machine, for the high-availability tests: one etcd, three
Patroni nodes (each its own PostgreSQL 15 data dir, REST API port and replication slot) and one
HAProxy that routes to the node whose REST API answers GET /primary with 200, all on loopback
ports in a temp dir, as the postgres user. The Patroni settings PEZ needs and the HAProxy
config are packaging/examples/patroni/'s, so the worked example is what the tests run on.
Whatever it started is stopped by destroy(), whatever happened before."""

import contextlib
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import psycopg2
import yaml

import harness
from harness import children, wait_until

EXAMPLES = os.path.join(harness.ROOT, "packaging", "examples", "patroni")
# Patroni's timing in the tests: short, so that the stage takes minutes, yet loop_wait + 2 *
# retry_timeout stays within ttl, as Patroni asks. The example keeps Patroni's defaults.
TIMING = {"ttl": 10, "loop_wait": 2, "retry_timeout": 3}
PROGRAMS = {"patroni": "patroni", "patronictl": "patroni", "etcd": "etcd-server", "etcdctl": "etcd-client",
            "haproxy": "haproxy"}


def program(name):
    path = shutil.which(name) or next((p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}") if os.access(p, os.X_OK)),
                                      None)
    if path is None:
        raise RuntimeError(f"{name} is missing: install {PROGRAMS[name]} (scripts/setup-deps); the HA tests need a "
                           f"real Patroni cluster (patroni, etcd-server, etcd-client, haproxy)")
    return path


def as_postgres():
    return {"user": "postgres", "group": "postgres"} if harness.IS_ROOT else {}


def http_get(url, timeout=2.0):
    """(status, body), or (None, b"") when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (OSError, ValueError):
        return None, b""


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_process(proc, timeout=30):
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGCONT)
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def chown_postgres(path):
    if harness.IS_ROOT:
        shutil.chown(path, "postgres", "postgres")


class Etcd:
    def __init__(self, base):
        self.dir = os.path.join(base, "etcd")
        self.client_port = harness.free_port()
        self.peer_port = harness.free_port()
        self.log_path = os.path.join(base, "etcd.log")
        self.proc = None

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.client_port}"

    def start(self):
        client = f"http://127.0.0.1:{self.client_port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [program("etcd"), "--name", "pez-ha", "--data-dir", self.dir, "--listen-client-urls", client,
                 "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"pez-ha={peer}", "--initial-cluster-state", "new"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, **as_postgres())
        wait_until(self.healthy, 30, interval=0.1, what="etcd to answer /health")

    def healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"etcd exited {self.proc.returncode}: {open(self.log_path).read()[-3000:]}")
        status, body = http_get(f"http://{self.endpoint}/health", timeout=1)
        return status == 200 and b'"true"' in body

    def stop(self):
        stop_process(self.proc)

    def keys(self, prefix):
        """Every key under prefix and its value, as etcdctl prints them (for a failure's message)."""
        try:
            result = subprocess.run([program("etcdctl"), "--endpoints", self.endpoint, "get", "--prefix", prefix],
                                    capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL,
                                    env={**os.environ, "ETCDCTL_API": "3"})
        except subprocess.TimeoutExpired:
            return f"(etcdctl did not list the keys under {prefix} within 10 s)"
        return result.stdout + result.stderr


class Node:
    """One Patroni node and its PostgreSQL."""

    def __init__(self, base, index):
        self.name = f"node{index}"
        self.dir = os.path.join(base, self.name)
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o755)
        chown_postgres(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.pg_port = harness.free_port()
        self.rest_port = harness.free_port()
        self.config_path = os.path.join(self.dir, "patroni.yml")
        self.log_path = os.path.join(self.dir, "patroni.log")
        self.proc = None

    def write_config(self, example, etcd):
        config = copy.deepcopy(example)
        config["name"] = self.name
        config["namespace"] = "/pez-ha/"
        config["restapi"] = {"listen": f"127.0.0.1:{self.rest_port}", "connect_address": f"127.0.0.1:{self.rest_port}"}
        config["etcd3"] = {"hosts": [etcd.endpoint]}
        config["bootstrap"]["dcs"].update(TIMING)
        config["bootstrap"]["initdb"] = [{"encoding": "UTF8"}, {"auth": "trust"}]
        config["watchdog"] = {"mode": "off"}  # no softdog in a test machine
        postgresql = config.setdefault("postgresql", {})
        postgresql.update({
            "listen": f"127.0.0.1:{self.pg_port}",
            "connect_address": f"127.0.0.1:{self.pg_port}",
            "data_dir": self.data,
            "bin_dir": harness.PG_BIN,
            "pgpass": os.path.join(self.dir, "pgpass"),
            "authentication": {"superuser": {"username": "postgres"}, "replication": {"username": "postgres"},
                               "rewind": {"username": "postgres"}},
            "pg_hba": ["local all all trust", "local replication all trust", "host all all 127.0.0.1/32 trust",
                       "host replication all 127.0.0.1/32 trust"],
            # A crashed node catches up with pg_rewind, else is cloned again.
            "remove_data_directory_on_rewind_failure": True,
            "remove_data_directory_on_diverged_timelines": True,
        })
        postgresql.setdefault("parameters", {}).update({"unix_socket_directories": self.dir, "max_connections": 200})
        with open(self.config_path, "w") as f:
            yaml.safe_dump(config, f)
        chown_postgres(self.config_path)

    def start(self):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen([program("patroni"), self.config_path], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True, **as_postgres())

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def rest(self, path, timeout=1.0):
        return http_get(f"http://127.0.0.1:{self.rest_port}{path}", timeout=timeout)

    def postmaster(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                pid = int(f.readline())
        except (OSError, ValueError):
            return None
        return pid if alive(pid) else None

    def postgres_pids(self):
        postmaster = self.postmaster()
        return [postmaster] + children(postmaster) if postmaster else []

    def kill9(self):
        """kill -9 of Patroni and every process of its PostgreSQL, all stopped first so that none
        acts while the others die."""
        pids = ([self.proc.pid] if self.running() else []) + self.postgres_pids()
        harness.signal_all(pids, signal.SIGSTOP)
        harness.signal_all(pids, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
        wait_until(lambda: not any(alive(pid) for pid in pids), 10, what=f"{self.name}'s processes to die")

    def freeze(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self, timeout=40):
        """Patroni stops its PostgreSQL on SIGTERM; whatever is left is killed."""
        stop_process(self.proc, timeout)
        left = self.postgres_pids()
        harness.signal_all(left, signal.SIGKILL)

    def connect(self, database="postgres"):
        return psycopg2.connect(host="127.0.0.1", port=self.pg_port, user="postgres", dbname=database,
                                connect_timeout=1, options="-c statement_timeout=2000")

    def psql(self, database, sql):
        result = subprocess.run([os.path.join(harness.PG_BIN, "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U",
                                 "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise AssertionError(f"psql on {self.name} failed: {sql}\n{result.stderr}")
        return result.stdout.strip()

    def log_tail(self, chars=4000):
        try:
            with open(self.log_path) as f:
                return f.read()[-chars:]
        except OSError:
            return ""


class HAProxy:
    """HAProxy on packaging/examples/patroni/haproxy.cfg, its bind and server addresses the
    test cluster's."""

    def __init__(self, base, nodes):
        with open(os.path.join(EXAMPLES, "haproxy.cfg")) as f:
            text = f.read()
        self.port = harness.free_port()
        text, binds = re.subn(r"(?m)^(\s*bind\s+)\S+", rf"\g<1>127.0.0.1:{self.port}", text)
        assert binds == 1, "packaging/examples/patroni/haproxy.cfg: expected one bind line"
        servers = iter(nodes)

        def server(match):
            node = next(servers)
            return (f"{match.group(1)}{node.name} 127.0.0.1:{node.pg_port}{match.group(2)}"
                    f"check port {node.rest_port}")

        text, count = re.subn(r"(?m)^(\s*server\s+)\S+\s+\S+:\d+(.*?)check port \d+", server, text)
        assert count == len(nodes), "packaging/examples/patroni/haproxy.cfg: expected one server line per node"
        self.config_path = os.path.join(base, "haproxy.cfg")
        with open(self.config_path, "w") as f:
            f.write(text)
        self.log_path = os.path.join(base, "haproxy.log")
        check = subprocess.run([program("haproxy"), "-c", "-f", self.config_path], capture_output=True, text=True)
        assert check.returncode == 0, f"haproxy -c: {check.stdout}{check.stderr}"
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen([program("haproxy"), "-db", "-f", self.config_path], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                         **as_postgres())

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError(f"haproxy exited {self.proc.returncode}: {open(self.log_path).read()}")
            with contextlib.suppress(OSError), __import__("socket").create_connection(("127.0.0.1", self.port), 1):
                return True
            return False

        wait_until(listening, 15, what="HAProxy to listen")

    def stop(self):
        stop_process(self.proc)


class PatroniCluster:
    def __init__(self):
        for name in PROGRAMS:
            program(name)
        with open(os.path.join(EXAMPLES, "patroni.yml")) as f:
            self.example = yaml.safe_load(f)
        self.base = harness.short_tempdir("pez-ha-")
        chown_postgres(self.base)
        self.etcd = None
        self.nodes = []
        self.haproxy = None
        self.heals = []
        try:
            self.etcd = Etcd(self.base)
            self.etcd.start()
            self.nodes = [Node(self.base, i) for i in (1, 2, 3)]
            for node in self.nodes:
                node.write_config(self.example, self.etcd)
            # The first bootstraps the cluster; the others are cloned from it.
            self.nodes[0].start()
            wait_until(lambda: self.nodes[0].rest("/primary")[0] == 200, 120, interval=0.2,
                       what=lambda: f"node1 to bootstrap and lead\n{self.nodes[0].log_tail()}")
            for node in self.nodes[1:]:
                node.start()
            self.wait_healthy()
            self.haproxy = HAProxy(self.base, self.nodes)
            self.wait_routed()
        except BaseException:
            self.destroy()
            raise

    @property
    def synchronous(self):
        return bool(self.dcs_config().get("synchronous_mode"))

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def state(self):
        """GET /cluster from any node whose REST API answers: the members and their roles."""
        for node in self.nodes:
            if not node.running():
                continue
            status, body = node.rest("/cluster")
            if status == 200:
                return json.loads(body)
        return {"members": []}

    def dcs_config(self):
        for node in self.nodes:
            if node.running():
                status, body = node.rest("/config")
                if status == 200:
                    return json.loads(body)
        return {}

    def leader(self):
        for member in self.state()["members"]:
            if member.get("role") == "leader" and member.get("state") == "running":
                return self.node(member["name"])
        return None

    def healthy(self, members=3):
        state = self.state()["members"]
        running = [m for m in state if m.get("state") == "running"]
        leaders = [m for m in running if m.get("role") == "leader"]
        replicas = [m for m in running if m.get("role") in ("replica", "sync_standby")]
        if len(running) != members or len(leaders) != 1 or len(replicas) != members - 1:
            return False
        if any(not isinstance(m.get("lag"), int) for m in replicas):
            return False
        if self.synchronous and not any(m.get("role") == "sync_standby" for m in replicas):
            return False
        # The leader's own view: every replica streams (and, in synchronous mode, one is sync).
        leader = self.node(leaders[0]["name"])
        try:
            with contextlib.closing(leader.connect()) as conn, conn.cursor() as cur:
                cur.execute("SELECT count(*), count(*) FILTER (WHERE sync_state = 'sync'),"
                            " current_setting('synchronous_standby_names')"
                            " FROM pg_stat_replication WHERE state = 'streaming'")
                streaming, sync, names = cur.fetchone()
        except psycopg2.Error:
            return False
        return streaming == members - 1 and (not self.synchronous or (sync == 1 and names != ""))

    def streaming(self):
        """The names of the replicas the leader sees streaming, or None without a leader."""
        leader = self.leader()
        if leader is None:
            return None
        try:
            with contextlib.closing(leader.connect()) as conn, conn.cursor() as cur:
                cur.execute("SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")
                return {row[0] for row in cur.fetchall()}
        except psycopg2.Error:
            return None

    def heal(self):
        """What an operator does for a member that does not rejoin: its Patroni started again if it
        died, else the member cloned afresh from the leader (patronictl reinit). Each step is kept
        in self.heals with the member's log, for the run's summary."""
        streaming = self.streaming()
        leader = self.leader()
        # patronictl reinit acts on a member its cluster lists as a replica only.
        replicas = {m["name"] for m in self.state()["members"] if m.get("role") != "leader"}
        for node in self.nodes:
            if not node.running():
                action = "Patroni started again"
                node.start()
            elif leader is not None and node.name in replicas and streaming is not None and node.name not in streaming:
                action = "reinit"
                self.patronictl("reinit", self.example["scope"], node.name, "--force")
            else:
                continue
            self.heals.append({"node": node.name, "action": action, "log": node.log_tail(3000), "at": time.monotonic()})

    def wait_healthy(self, timeout=120, heal_after=None):
        """Waits for a leader and every replica streaming. With heal_after, a member that has not
        rejoined by then is healed (see heal) and the wait goes on for timeout."""
        if heal_after is not None and not self.healthy():
            with contextlib.suppress(AssertionError):
                wait_until(self.healthy, heal_after, interval=0.2)
            if not self.healthy():
                self.heal()
        wait_until(self.healthy, timeout, interval=0.2,
                   what=lambda: "the Patroni cluster: a leader, every replica streaming"
                   + (", one synchronous" if self.synchronous else "")
                   + f"\nmembers: {self.state()['members']}\n--- the DCS ---\n{self.etcd.keys('/pez-ha/')}"
                   + "".join(f"\n--- {n.name} ---\n{n.log_tail(6000)}" for n in self.nodes))

    def patronictl(self, *args):
        result = subprocess.run([program("patronictl"), "-c", self.nodes[0].config_path, *args],
                                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"patronictl {' '.join(args)}: {result.stdout}{result.stderr}"
        return result.stdout

    def set_synchronous(self, on):
        """synchronous_mode through the DCS (patronictl edit-config), then waits until the leader's
        synchronous_standby_names says so."""
        self.patronictl("edit-config", "--force", "-s", f"synchronous_mode={'true' if on else 'false'}")

        def applied():
            leader = self.leader()
            if leader is None:
                return False
            names = leader.psql("postgres", "SHOW synchronous_standby_names")
            return (names != "") == on

        wait_until(applied, 60, interval=0.2, what=f"synchronous_mode {on} to reach the leader")
        if on:
            self.wait_healthy()

    def wait_routed(self, timeout=30):
        """Until HAProxy's checks have taken the replicas out (it starts with every server up):
        ten connections in a row reach a server that accepts writes."""
        def primary_only():
            for _ in range(10):
                try:
                    with contextlib.closing(psycopg2.connect(host="127.0.0.1", port=self.haproxy.port, user="postgres",
                                                             dbname="postgres", connect_timeout=1)) as conn:
                        with conn.cursor() as cur:
                            cur.execute("SELECT pg_is_in_recovery()")
                            if cur.fetchone()[0]:
                                return False
                except psycopg2.Error:
                    return False
            return True

        wait_until(primary_only, timeout, interval=0.2, what="HAProxy to route to the primary alone")

    def multi_host_url(self, database):
        hosts = ",".join("127.0.0.1" for _ in self.nodes)
        ports = ",".join(str(n.pg_port) for n in self.nodes)
        return (f"host={hosts} port={ports} dbname={database} user=postgres target_session_attrs=read-write "
                f"connect_timeout=2")

    def haproxy_url(self, database):
        return f"host=127.0.0.1 port={self.haproxy.port} dbname={database} user=postgres connect_timeout=2"

    def logs(self):
        out = []
        for node in self.nodes:
            out.append(f"----- {node.name} (patroni) -----\n{node.log_tail()}")
        return "\n".join(out)

    def destroy(self):
        if self.haproxy is not None:
            self.haproxy.stop()
        for node in self.nodes:
            with contextlib.suppress(Exception):
                if node.proc is not None and node.running():
                    with contextlib.suppress(ProcessLookupError):
                        node.thaw()
                node.stop()
        if self.etcd is not None:
            self.etcd.stop()
        # Nothing of it may outlive the test: a PostgreSQL whose Patroni died is killed.
        for node in self.nodes:
            harness.signal_all(node.postgres_pids(), signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)


class Stand:
    """Something with the attributes harness.Pezd reads of a cluster (its PG* defaults); every pezd
    of the HA tests is given database_url."""

    def __init__(self, port):
        self.dir = "127.0.0.1"
        self.port = port


def wait_writable(nodes, exclude=(), timeout=60):
    """The first node (not in exclude) whose PostgreSQL accepts writes (not in recovery), and when."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in nodes:
            if node in exclude:
                continue
            try:
                with contextlib.closing(node.connect()) as conn, conn.cursor() as cur:
                    cur.execute("SELECT pg_is_in_recovery()")
                    if not cur.fetchone()[0]:
                        return node, time.monotonic()
            except psycopg2.Error:
                pass
        time.sleep(0.05)
    raise AssertionError(f"no node accepted writes within {timeout}s")


def any_writable(nodes):
    for node in nodes:
        try:
            with contextlib.closing(node.connect()) as conn, conn.cursor() as cur:
                cur.execute("SELECT pg_is_in_recovery()")
                if not cur.fetchone()[0]:
                    return True
        except psycopg2.Error:
            pass
    return False

