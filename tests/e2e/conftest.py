"""Fixtures for the end-to-end suite: a real seald instance per test module.

`seald init` writes a fresh instance into a temp directory, the daemon runs
on a free loopback port with HTTPS, and tests talk to it with requests.
Teardown sends SIGTERM and asserts a clean exit (under ASan a leak makes the
exit status non-zero, so leaks fail the suite too).
"""
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time

import pytest
import requests
import urllib3

urllib3.disable_warnings(urllib3.exceptions.SubjectAltNameWarning) \
    if hasattr(urllib3.exceptions, "SubjectAltNameWarning") else None

SEALD = os.environ.get("SEALD_BIN", os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "src", "seald"))
SOURCE_DIR = os.environ.get("SEALD_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", ".."))
CRED_RE = re.compile(r"credential:\s+(seald_[0-9a-f]{16}_[0-9a-f]{64})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_seald(*args, **kw):
    return subprocess.run([SEALD, *args], capture_output=True, text=True,
                          timeout=kw.pop("timeout", 60), **kw)


class Instance:
    """One initialised instance directory and, once started, its daemon."""

    def __init__(self, directory):
        self.dir = str(directory)
        out = run_seald("init", "--dir", self.dir)
        assert out.returncode == 0, out.stderr
        m = CRED_RE.search(out.stdout)
        assert m, out.stdout
        self.admin_credential = m.group(1)
        self.init_stdout = out.stdout
        self.conf = os.path.join(self.dir, "seald.conf")
        self.db = os.path.join(self.dir, "seald.db")
        self.cert = os.path.join(self.dir, "tls", "server.crt")
        self.log = os.path.join(self.dir, "seald.log")
        self.proc = None
        self.port = None
        self.scheme = "https"

    def start(self, *extra, plain=False, env=None):
        """Run the daemon with extra arguments; env (may be None) holds
        variables to set for it on top of this process's environment."""
        self.port = free_port()
        args = [SEALD, "run", "--config", self.conf, "--port", str(self.port),
                "--log-file", self.log, *extra]
        if plain:
            args.append("--plain-http")
            self.scheme = "http"
        full_env = None
        if env is not None:
            full_env = dict(os.environ)
            full_env.update(env)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=full_env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("seald exited: " + self.proc.stderr.read())
            try:
                if requests.get(self.url("/healthz"), verify=self.verify,
                                timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("seald did not come up")

    @property
    def verify(self):
        return self.cert if self.scheme == "https" else False

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def request(self, method, path, credential=None, **kw):
        headers = kw.pop("headers", {})
        if credential:
            headers["Authorization"] = "Bearer " + credential
        kw.setdefault("timeout", 30)
        return requests.request(method, self.url(path), headers=headers,
                                verify=self.verify, **kw)

    def get(self, path, credential=None, **kw):
        return self.request("GET", path, credential, **kw)

    def post(self, path, credential=None, **kw):
        return self.request("POST", path, credential, **kw)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stop the daemon; returns (exit status, stdout, stderr)."""
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        rc = self.proc.returncode
        self.proc = None
        return rc, out, err

    def sql(self, query, *params):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(query, params).fetchall()
        finally:
            con.close()

    def audit(self):
        return self.sql("SELECT seq, account_id, client_addr, request_id, "
                        "action, target_id, outcome, reason FROM audit_log "
                        "ORDER BY seq")


@pytest.fixture
def instance(tmp_path):
    """A freshly initialised, not yet started instance."""
    inst = Instance(tmp_path / "inst")
    yield inst
    if inst.proc is not None:
        inst.proc.kill()
        inst.proc.wait()


@pytest.fixture
def seald(instance):
    """A running instance; teardown asserts a clean SIGTERM shutdown."""
    instance.start()
    yield instance
    if instance.proc is not None:
        rc, _, err = instance.stop()
        assert rc == 0, err


def assert_error(resp, status, code):
    """The one error shape: {"error": {"code", "message", "request_id"}}."""
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == code, body
    assert err["message"]
    assert err["request_id"] == resp.headers["X-Request-Id"]
    return err
