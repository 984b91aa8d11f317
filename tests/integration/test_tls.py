# SPDX-License-Identifier: Apache-2.0
"""pezd to PostgreSQL over TLS, as to a managed database: a test CA, server and client certificates
made here with openssl, PostgreSQL with ssl = on on a loopback TCP port, and pezd with
sslmode=verify-full. A server certificate from another CA is refused with a message naming the
problem and answered "unavailable" at once, not after a hang; client-certificate authentication
works."""

import os
import shutil
import subprocess
import time

import pytest

import harness
from harness import IS_ROOT, wait_until

pytestmark = pytest.mark.strict_only  # the database connection is the same in both modes


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, text=True)


def make_ca(cwd, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=cwd)


def make_cert(cwd, ca, name, subject, san=None):
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={subject}", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", cwd=cwd)
    extra = []
    if san:
        with open(os.path.join(cwd, f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName = {san}\n")
        extra = ["-extfile", f"{name}.ext"]
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-out", f"{name}.crt", *extra, cwd=cwd)
    os.chmod(os.path.join(cwd, f"{name}.key"), 0o600)


@pytest.fixture(scope="module")
def certificates():
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is missing: install it (scripts/setup-deps)")
    path = harness.short_tempdir("pez-tls-")
    make_ca(path, "ca")
    make_ca(path, "other-ca")
    make_cert(path, "ca", "server", "localhost", "DNS:localhost,IP:127.0.0.1")
    make_cert(path, "ca", "client", "postgres")
    if IS_ROOT:
        for name in os.listdir(path):
            shutil.chown(os.path.join(path, name), "postgres", "postgres")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_cluster(certificates):
    port = harness.free_port()
    c = harness.Cluster(settings={
        "listen_addresses": "'127.0.0.1'", "port": port, "ssl": "on",
        "ssl_cert_file": f"'{certificates}/server.crt'", "ssl_key_file": f"'{certificates}/server.key'",
        "ssl_ca_file": f"'{certificates}/ca.crt'"})
    hba = os.path.join(c.data, "pg_hba.conf")
    with open(hba) as f:
        original = f.read()
    with open(hba, "w") as f:
        # TCP only over TLS: with a client certificate for the database certs, else trusted.
        f.write("hostssl certs all 127.0.0.1/32 cert\n" "hostssl all all 127.0.0.1/32 trust\n" + original)
    c.pg_ctl("reload")
    c.psql("postgres", 'CREATE DATABASE certs')
    yield c
    c.destroy()


def url(cluster, database, certificates, root="ca", client=False):
    text = (f"host=localhost port={cluster.port} dbname={database} sslmode=verify-full "
            f"sslrootcert={certificates}/{root}.crt")
    if client:
        text += f" sslcert={certificates}/client.crt sslkey={certificates}/client.key"
    return text


def start(cluster, workdir, database_url):
    # PGHOST of the harness points at the Unix socket: the URL says where to go instead.
    p = harness.Pezd(cluster, "postgres", workdir, args=["--database-url", database_url, "--mode", "strict"],
                     env={"PGPORT": str(cluster.port)})
    return p


def test_verify_full_connects(tls_cluster, certificates, workdir):
    database = tls_cluster.create_database()
    pezd = start(tls_cluster, workdir, url(tls_cluster, database, certificates))
    with harness.logs_on_failure(pezd):
        pezd.start()
        assert pezd.numbers("forward", 2) == [1, 2]
        ssl = tls_cluster.psql("postgres", "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                                           f"WHERE a.application_name = 'pezd' AND a.datname = '{database}' AND s.ssl")
        assert int(ssl) >= 1
        assert pezd.stop() == 0


def test_a_server_certificate_of_another_ca_is_refused_at_once(tls_cluster, certificates, workdir):
    database = tls_cluster.create_database()
    pezd = start(tls_cluster, workdir, url(tls_cluster, database, certificates, root="other-ca"))
    with harness.logs_on_failure(pezd):
        pezd.start(wait_ready=False)
        wait_until(lambda: "certificate verify failed" in pezd.log_text(), 10, what="the certificate problem in the log")
        began = time.monotonic()
        r = pezd.get("/v1/forward")
        assert r.status == 503 and time.monotonic() - began < 2, r
        assert pezd.get("/readyz").status == 503
        assert pezd.stop() == 0


def test_client_certificate_authentication(tls_cluster, certificates, workdir):
    # pg_hba.conf asks database certs for a client certificate: without one, no connection.
    without = start(tls_cluster, workdir, url(tls_cluster, "certs", certificates))
    with harness.logs_on_failure(without):
        without.start(wait_ready=False)
        wait_until(lambda: "certificate" in without.log_text().split("started", 1)[-1], 10,
                   what="the refusal of a connection without a certificate")
        assert without.get("/readyz").status == 503
        assert without.stop() == 0
    pezd = start(tls_cluster, workdir, url(tls_cluster, "certs", certificates, client=True))
    with harness.logs_on_failure(pezd):
        pezd.start()
        assert pezd.numbers("forward", 1) == [1]
        assert pezd.stop() == 0
