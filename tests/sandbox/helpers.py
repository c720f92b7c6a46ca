"""Helpers for the sandbox's own tests: API client, accounts, SSH keys, waits."""
from __future__ import annotations

import io
import itertools
import socket
import time
import uuid

import paramiko
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

FAST = 1200.0          # time scale where timing does not matter
DEFAULT_PASSWORD = "secret123"
_counter = itertools.count(1)


def wait_until(fn, timeout=10.0, interval=0.02, what="condition"):
    """Poll fn() until it returns a truthy value; fail with the last value after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)


class Api:
    """A tiny client of the public API for one account."""

    def __init__(self, url: str, token: str | None = None, prefix: str = "/api/v1"):
        self.url = url
        self.prefix = prefix
        self.s = requests.Session()
        if token:
            self.s.headers["Authorization"] = f"Bearer {token}"
        self.email = None

    def req(self, method, path, **kw):
        kw.setdefault("timeout", 60)
        kw.setdefault("allow_redirects", False)
        return self.s.request(method, self.url + self.prefix + path, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, **kw):
        return self.req("POST", path, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    # conveniences
    def instance(self, iid):
        return self.get(f"/instances/{iid}")

    def create(self, offer_id=101001, **body):
        body.setdefault("label", f"t-{uuid.uuid4().hex[:6]}")
        return self.post("/instances", json={"offer_id": offer_id, **body})

    def wait_status(self, iid, status, timeout=10.0):
        def check():
            r = self.instance(iid)
            return r.json() if r.status_code == 200 and r.json()["actual_status"] == status else None
        return wait_until(check, timeout, what=f"instance {iid} {status}")

    def create_running(self, key=None, offer_id=101001, **body):
        if key is not None:
            body["ssh_key"] = key.public
        r = self.create(offer_id, **body)
        assert r.status_code == 201, r.text
        return self.wait_status(r.json()["id"], "running")


def login(url, email, password):
    r = requests.post(url + "/api/v1/auth/login", json={"email": email, "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def new_account(sb, balance=100.0):
    email = f"user{next(_counter)}-{uuid.uuid4().hex[:6]}@example.com"
    sb.admin.set_account(email, password=DEFAULT_PASSWORD, balance=balance)
    api = Api(sb.url, login(sb.url, email, DEFAULT_PASSWORD))
    api.email = email
    return api


class Key:
    def __init__(self):
        priv = ed25519.Ed25519PrivateKey.generate()
        self.private_pem = priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                              serialization.NoEncryption()).decode()
        self.public = priv.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                     serialization.PublicFormat.OpenSSH).decode() + " test@sandbox"
        self.pkey = paramiko.Ed25519Key.from_private_key(io.StringIO(self.private_pem))


def ssh_connect(port, key, host="127.0.0.1", timeout=5.0):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect(host, port=port, username="root", pkey=key.pkey, look_for_keys=False, allow_agent=False,
              timeout=timeout, banner_timeout=timeout, auth_timeout=timeout)
    return c


def ssh_run(port, key, command, stdin: bytes | None = None, timeout=30.0):
    """Run command over SSH; returns (exit status, stdout bytes, stderr bytes)."""
    c = ssh_connect(port, key)
    try:
        i, o, e = c.exec_command(command, timeout=timeout)
        if stdin is not None:
            i.write(stdin)
        i.channel.shutdown_write()
        out, err = o.read(), e.read()
        return o.channel.recv_exit_status(), out, err
    finally:
        c.close()


def wait_ssh(port, key, timeout=10.0):
    def attempt():
        try:
            return ssh_run(port, key, "true")[0] == 0
        except Exception:
            return False
    return wait_until(attempt, timeout, interval=0.05, what=f"SSH on port {port}")


def refused(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port (the connection is refused)."""
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(("127.0.0.1", port))
        return False
    except ConnectionRefusedError:
        return True
    finally:
        s.close()
