"""A throw-away PostgreSQL 15 for the tests in tests/pg.

initdb into a temporary directory (as nobody when the test runs as root:
the server refuses to run as root), listening only on a unix socket in that
directory (no TCP, so a PostgreSQL already running on the machine is never
seen), trust authentication for the superuser `seald`, fsync off; stopped
with `pg_ctl stop -m immediate` and the directory removed at the end.
Nothing outside the temporary directory is touched.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

PG_BIN = os.environ.get("SEALD_PG_BIN", "/usr/lib/postgresql/15/bin")
SUPERUSER = "seald"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A throw-away PostgreSQL in a temporary directory."""

    def __init__(self, hba_first=(), tls=None):
        """hba_first: pg_hba.conf lines put before initdb's (which trust
        every local connection), e.g. a role that must give a password.
        tls: (cert_pem_path, key_pem_path) to also listen on 127.0.0.1 (the
        same free port) with ssl = on; the files are copied in."""
        self.hba_first = list(hba_first)
        self.tls = tls
        if not os.path.exists(os.path.join(PG_BIN, "initdb")):
            pytest.fail("no %s/initdb: run scripts/deps --test" % PG_BIN)
        self.dir = tempfile.mkdtemp(prefix="seald-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.port = _free_port()     # names the socket: .s.PGSQL.<port>
        self.started = False
        self.user = {}
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: the server runs as nobody,
            # which owns the temporary directory (mode 0700: only nobody and
            # root, who connects, can reach the socket).
            pw = pwd.getpwnam("nobody")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.user = {"user": pw.pw_uid, "group": pw.pw_gid,
                         "extra_groups": []}

    def run(self, *args, timeout=120):
        out = subprocess.run([os.path.join(PG_BIN, args[0]), *args[1:]],
                             cwd=self.dir, capture_output=True, text=True,
                             timeout=timeout, **self.user)
        return out

    def start(self):
        t0 = time.monotonic()
        out = self.run("initdb", "-D", self.data, "-U", SUPERUSER,
                       "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
                       "--no-sync")
        assert out.returncode == 0, out.stdout + out.stderr
        if self.hba_first:
            hba = os.path.join(self.data, "pg_hba.conf")
            with open(hba, encoding="utf-8") as f:
                rest = f.read()
            with open(hba, "w", encoding="utf-8") as f:
                f.write("\n".join(self.hba_first) + "\n" + rest)
        self.pg_start()
        self.startup_s = time.monotonic() - t0

    def pg_start(self):
        """pg_ctl start on the data directory made by start() (again after
        pg_stop: the tests of a database restart)."""
        opts = ("-c listen_addresses='' -k %s -p %d -c fsync=off "
                "-c full_page_writes=off" % (self.dir, self.port))
        if self.tls:
            for src, name in zip(self.tls, ("server.crt", "server.key")):
                dst = os.path.join(self.data, name)
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o600)
                if self.user:
                    os.chown(dst, self.user["user"], self.user["group"])
            opts = opts.replace("listen_addresses=''",
                                "listen_addresses='127.0.0.1'")
            opts += " -c ssl=on"
        out = self.run("pg_ctl", "-D", self.data, "-l", self.log, "-w",
                       "-t", "60", "-o", opts, "start")
        self.started = True
        if out.returncode != 0:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                pytest.fail("pg_ctl start: %s%s\n%s" % (out.stdout,
                                                        out.stderr, f.read()))

    def pg_stop(self, mode="fast"):
        """pg_ctl stop -m mode, waiting for it; the directory stays, for
        pg_start."""
        out = self.run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop",
                       timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr

    def stop(self):
        try:
            if self.started:
                self.run("pg_ctl", "-D", self.data, "-m", "immediate", "-w",
                         "stop", timeout=60)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, dbname):
        """The libpq URL of dbname on this server (the unix socket)."""
        return "postgresql://%s@/%s?host=%s&port=%d" % (
            SUPERUSER, dbname, self.dir, self.port)

    def psql(self, dbname, sql):
        """Run sql with psql as the client (root or the caller), rows as
        unaligned text with | between columns."""
        out = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q",
                              "-A", "-t", "-v", "ON_ERROR_STOP=1",
                              self.url(dbname), "-c", sql],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout
