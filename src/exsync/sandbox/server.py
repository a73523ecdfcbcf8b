"""Serving the sandbox over HTTPS: its own CA, one owner per data folder, and a background server for
tests and benchmarks."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

import uvicorn

from exsync.sandbox.app import Sandbox
from exsync.sandbox.asgi import AsgiApp
from exsync.sandbox.tls import TlsFiles, prepare_tls

LOCK_FILE = "sandbox.lock"


class DataFolderInUse(RuntimeError):
    """Another sandbox process owns the data folder."""


@dataclass
class Owner:
    pid: int
    url: str
    started: str


class FolderLock:
    """An exclusive lock on DATA/sandbox.lock, holding who owns the folder (so a second process can say)."""

    def __init__(self, data: Path) -> None:
        self.path = data / LOCK_FILE
        self._file: IO[str] | None = None
        self._started = ""

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held for the server's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            owner = current_owner(self.path.parent)
            who = "another process"
            if owner is not None and owner.pid:
                serving = f" serving {owner.url}" if owner.url else ""
                who = f"process {owner.pid}{serving} (since {owner.started})"
            raise DataFolderInUse(
                f"the sandbox data folder {self.path.parent} is in use by {who}; stop that sandbox or give "
                "another --data folder"
            ) from None
        self._file = handle
        self._started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.record("")  # the owner is named from the first moment, its URL once it is known

    def record(self, url: str) -> None:
        assert self._file is not None
        self._file.seek(0)
        self._file.truncate()
        json.dump({"pid": os.getpid(), "url": url, "started": self._started}, self._file)
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def current_owner(data: Path) -> Owner | None:
    """The live process serving this data folder, if any (a stale lock file names nobody)."""
    path = data / LOCK_FILE
    if not path.exists():
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                info: dict[str, Any] = json.loads(handle.read() or "{}")
            except ValueError:
                info = {}
            return Owner(int(info.get("pid", 0)), str(info.get("url", "")), str(info.get("started", "?")))
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


class _Stopped(Exception):
    """SIGTERM arrived (after uvicorn's graceful shutdown)."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


class SandboxServer:
    """The sandbox on https://127.0.0.1:PORT in a background thread (PORT 0: any free port)."""

    def __init__(
        self,
        data: Path | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        users: Sequence[str] = (),
        time_scale: float = 1.0,
        requests_per_window: int = 10_000,
    ) -> None:
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        if data is None:
            self._temp = tempfile.TemporaryDirectory(prefix="exsync-sandbox-")
            tls_dir = Path(self._temp.name) / "tls"
        else:
            data.mkdir(parents=True, exist_ok=True)
            tls_dir = data / "tls"
        self._lock = FolderLock(data) if data is not None else None
        if self._lock is not None:
            self._lock.acquire()
        try:
            self.tls: TlsFiles = prepare_tls(tls_dir, (host, "localhost") if host != "localhost" else (host,))
            self.sandbox = Sandbox(
                data, users=users, time_scale=time_scale, requests_per_window=requests_per_window
            )
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._socket.listen(2048)  # connections made once the URL is printed wait for the server to accept
        self.port = self._socket.getsockname()[1]
        self.host = host
        self.url = f"https://{host}:{self.port}"
        config = uvicorn.Config(
            AsgiApp(self.sandbox),
            ssl_certfile=str(self.tls.cert),
            ssl_keyfile=str(self.tls.key),
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=2,  # idle keep-alive clients must not hold a stop for long
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (SIGINT/SIGTERM), then close the store and the lock and
        return. uvicorn stops gracefully on either signal and then raises it again for the handler it found
        installed: SIGTERM's default would end the process before the store is closed."""
        if self._lock is not None:
            self._lock.record(self.url)
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _stop) if main else None
        try:
            self._server.run(sockets=[self._socket])
        except (KeyboardInterrupt, _Stopped):
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            self.close()

    def start(self) -> SandboxServer:
        if self._lock is not None:
            self._lock.record(self.url)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="exsync-sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
        self.close()

    def close(self) -> None:
        self.sandbox.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self._socket.close()
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
