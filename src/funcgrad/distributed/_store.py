"""A key-value store over TCP, as ``torch.distributed.TCPStore``: the rendezvous of a process group.

Rank 0 serves it at ``MASTER_ADDR:MASTER_PORT``; every rank is a client. It is how the ranks find each
other (and the address of JAX's coordination service), with torch's timeouts and error classes: a
master nobody answers is a ``DistNetworkError``, a rank that never arrives a ``DistStoreError``. It
also carries the small python objects of ``all_gather_object``/``broadcast_object_list``.
"""
from __future__ import annotations

import pickle
import socket
import struct
import threading
import time
from datetime import timedelta

__all__ = ["TCPStore", "DistError", "DistNetworkError", "DistStoreError", "DistBackendError"]


class DistError(RuntimeError):
    """Base of the errors of ``funcgrad.distributed`` (torch.distributed.DistError)."""


class DistBackendError(DistError):
    """A collective failed (a peer died, a connection closed)."""


class DistNetworkError(DistError):
    """The master could not be reached."""


class DistStoreError(DistError):
    """A store operation timed out (a rank did not arrive)."""


def _seconds(timeout):
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    return float(timeout)


def _send(sock, obj):
    data = pickle.dumps(obj)
    sock.sendall(struct.pack("!Q", len(data)) + data)


def _recv(sock):
    head = _recv_exact(sock, 8)
    (n,) = struct.unpack("!Q", head)
    return pickle.loads(_recv_exact(sock, n))


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return bytes(buf)


class _Server:
    def __init__(self, host, port):
        self.data = {}
        self.cond = threading.Condition()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(("" if host in ("localhost", "127.0.0.1") else host, port))
        except OSError as e:
            self.sock.close()
            raise DistNetworkError(f"The server socket has failed to listen on any local network address. "
                                   f"port: {port}, useIpv6: false, code: -98, name: EADDRINUSE, message: {e}") from None
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            while True:
                cmd, key, arg = _recv(conn)
                _send(conn, self._do(cmd, key, arg))
        except (ConnectionError, OSError, EOFError):
            conn.close()

    def _do(self, cmd, key, arg):
        with self.cond:
            if cmd == "set":
                self.data[key] = arg
                self.cond.notify_all()
                return None
            if cmd == "add":
                v = int(self.data.get(key, b"0")) + arg
                self.data[key] = str(v).encode()
                self.cond.notify_all()
                return v
            if cmd == "get":  # arg: timeout in seconds; waits for the key
                end = time.monotonic() + arg
                while key not in self.data:
                    left = end - time.monotonic()
                    if left <= 0:
                        return ("timeout",)
                    self.cond.wait(left)
                return ("ok", self.data[key])
            if cmd == "wait_value":  # key reaches an int value >= arg[0] within arg[1] seconds
                want, timeout = arg
                end = time.monotonic() + timeout
                while int(self.data.get(key, b"0")) < want:
                    left = end - time.monotonic()
                    if left <= 0:
                        return ("timeout", int(self.data.get(key, b"0")))
                    self.cond.wait(left)
                return ("ok", int(self.data[key]))
            if cmd == "check":
                return all(k in self.data for k in key)
            if cmd == "delete":
                return self.data.pop(key, None) is not None
            if cmd == "num_keys":
                return len(self.data)
            raise ValueError(cmd)

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


class TCPStore:
    """``TCPStore(host_name, port, world_size=None, is_master=False, timeout=timedelta(seconds=300))``:
    ``set``/``get``/``add``/``wait``/``check``/``delete_key``/``num_keys`` as torch's."""

    def __init__(self, host_name, port, world_size=None, is_master=False, timeout=timedelta(seconds=300),
                 wait_for_workers=True, **kwargs):
        self.host = host_name
        self.timeout = _seconds(timeout)
        self._server = _Server(host_name, port) if is_master else None
        self.port = self._server.port if is_master else port
        self._lock = threading.Lock()
        self._sock = self._connect()

    def _connect(self):
        end = time.monotonic() + self.timeout
        delay = 0.05
        while True:
            try:
                s = socket.create_connection((self.host, self.port), timeout=max(0.1, min(5.0, end - time.monotonic())))
                s.settimeout(None)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return s
            except OSError:
                if time.monotonic() + delay >= end:
                    raise DistNetworkError(
                        f"The client socket has timed out after {int(self.timeout * 1000)}ms while trying to connect "
                        f"to ({self.host}, {self.port}).") from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _call(self, cmd, key, arg=None):
        with self._lock:
            try:
                _send(self._sock, (cmd, key, arg))
                return _recv(self._sock)
            except (ConnectionError, OSError) as e:
                raise DistNetworkError(f"the store at ({self.host}, {self.port}) closed the connection "
                                       f"(did rank 0 exit?): {e}") from None

    def set(self, key, value):
        if isinstance(value, str):
            value = value.encode()
        self._call("set", key, bytes(value))

    def get(self, key, timeout=None):
        t = self.timeout if timeout is None else _seconds(timeout)
        r = self._call("get", key, t)
        if r[0] == "timeout":
            raise DistStoreError(f"wait timeout after {int(t * 1000)}ms, keys: {key}")
        return r[1]

    def add(self, key, amount):
        return self._call("add", key, int(amount))

    def wait(self, keys, timeout=None):
        for k in keys:
            self.get(k, timeout)

    def wait_value(self, key, value, timeout=None):
        """Block until the counter ``key`` reaches ``value``; returns (reached, current)."""
        t = self.timeout if timeout is None else _seconds(timeout)
        r = self._call("wait_value", key, (int(value), t))
        return r[0] == "ok", r[1]

    def check(self, keys):
        return self._call("check", list(keys))

    def delete_key(self, key):
        return self._call("delete", key)

    def num_keys(self):
        return self._call("num_keys", None)

    def close(self):
        try:
            self._sock.close()
        except OSError:
            pass
        if self._server is not None:
            self._server.close()


for _c in (DistError, DistBackendError, DistNetworkError, DistStoreError):
    _c.__module__ = "torch.distributed"  # tracebacks print torch's names
