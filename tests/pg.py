"""A throwaway PostgreSQL server for the test session, and the ``store_url`` fixture over both stores.

Enable it with ``pytest_plugins = ["tests.pg"]`` in ``tests/conftest.py``. The server is started once
per session (``initdb`` + ``pg_ctl`` into a temporary directory, listening on 127.0.0.1 on a free port,
fsync off: it is a scratch server) and stopped and removed at the end. Each test that asks for
``pg_db_url`` gets a database of its own, created with ``CREATE DATABASE`` and dropped afterwards.

Where the server binaries are missing, PostgreSQL tests are skipped with the reason, except under
``CI=true``, where a missing server is an error (``scripts/ensure_postgres.sh`` installs one; the
fixture runs it itself when it can).
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ("sqlite", "postgresql")


def _bin_dir() -> Path | None:
    """The directory holding initdb/pg_ctl: PATH first, then Debian's versioned directories."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                    if Path(p).parent.name.isdigit() else 0, reverse=True):
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One scratch cluster: ``start()``, ``url(dbname)``, ``create_database()``, ``stop()``."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="findings-pg-"))
        self.data = self.dir / "data"
        self.port = 0
        self.as_nobody = os.geteuid() == 0  # initdb refuses to run as root
        if self.as_nobody:
            shutil.chown(self.dir, user="nobody", group=_nobody_group())

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_nobody:
            cmd = ["runuser", "-u", "nobody", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir,
                              env={**os.environ, "LC_ALL": "C", "LANG": "C"})

    def start(self) -> None:
        res = self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                        "--locale=C", "--no-sync")
        if res.returncode != 0:
            raise RuntimeError(f"initdb failed: {res.stderr.strip() or res.stdout.strip()}")
        last = ""
        for _ in range(5):  # a free port can be taken between finding it and binding it: try another
            self.port = _free_port()
            opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 "
                    "-c shared_buffers=32MB")
            res = self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w",
                            "-t", "60", "start")
            if res.returncode == 0:
                return
            last = (self.dir / "log").read_text(errors="replace")[-2000:] if (self.dir / "log").exists() else ""
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        raise RuntimeError(f"pg_ctl start failed: {res.stderr.strip()} {last}")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is ended, the server is back when this returns."""
        res = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-m", "fast", "-w", "-t", "60",
                        "restart")
        if res.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {res.stderr.strip() or res.stdout.strip()}")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def _admin(self):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                               autocommit=True, connect_timeout=10)

    def create_database(self) -> str:
        from psycopg import sql

        name = f"t_{uuid.uuid4().hex[:16]}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        try:
            if self.data.exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop", timeout=60)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _nobody_group() -> str:
    import grp

    for name in ("nogroup", "nobody"):
        try:
            grp.getgrnam(name)
            return name
        except KeyError:
            continue
    return str(65534)


def _ensure_binaries() -> Path | None:
    bin_dir = _bin_dir()
    if bin_dir is None and IN_CI and os.geteuid() == 0:
        subprocess.run(["bash", str(ROOT / "scripts" / "ensure_postgres.sh")], check=False, timeout=900)
        bin_dir = _bin_dir()
    return bin_dir


@pytest.fixture(scope="session")
def pg_server():
    bin_dir = _ensure_binaries()
    if bin_dir is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) not found; run scripts/ensure_postgres.sh"
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    server = PgServer(bin_dir)
    try:
        server.start()
    except Exception:
        server.stop()
        raise
    yield server
    from db.engine import get_engine

    get_engine.cache_clear()
    server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server) -> str:
    """URL of the session's scratch server (its ``postgres`` database)."""
    return pg_server.url()


@pytest.fixture
def pg_db_url(pg_server) -> str:
    """A fresh, empty database on the scratch server for this test; dropped afterwards."""
    from db.engine import get_engine

    name = pg_server.create_database()
    url = pg_server.url(name)
    yield url
    get_engine(url).dispose()  # close pooled connections before dropping
    pg_server.drop_database(name)


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path, monkeypatch) -> str:
    """The database URL of a fresh, empty store on each backend; FINDINGS_DB points at it too."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_db_url")
    monkeypatch.setenv("FINDINGS_DB", url)
    return url


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
