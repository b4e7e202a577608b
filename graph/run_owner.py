"""Who owns a running run, and the rule that calls a ``running`` run **abandoned**.

A run is opened by one process (``findings run``, a sweep's driver, a ``findings.run`` block), which keeps
it ``running`` until it finishes or fails it. A process that dies without either (SIGKILL, a power cut, a
laptop closed for good) leaves it ``running`` forever, so each run names its owner — ``owner``: host,
pid, boot id and the process's start time (Linux ``/proc``) — and the owner's ledger touches
``heartbeat_at`` every :data:`HEARTBEAT_S` seconds while the run is open (:mod:`engine.record`).

A run stored as ``running`` is abandoned when

1. its owner ran on this host (same host name and boot) and that process is gone: no such pid, or the
   pid now belongs to a process started at another time; or
2. it is not known to be alive here (another host, or an owner recorded without a start time) and its
   last heartbeat — or its start, if it never beat — is older than :func:`stale_after` (300 s;
   ``FINDINGS_RUN_STALE_S``).

A live owner on this host is alive whatever its heartbeat says (a busy store may delay the beat). The rule
is computed on reading (``findings runs``, the app's Runs page); the next process that opens a run under
the same config hash records it (status ``abandoned``, with the reason) and runs the work again. An
abandoned run is never counted as finished and has no findings: a run's findings are written with its
``finished`` status, in one transaction.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0
STALE_ENV = "FINDINGS_RUN_STALE_S"


def stale_after() -> float:
    """Seconds without a heartbeat after which a run not known alive here is abandoned."""
    raw = os.environ.get(STALE_ENV, "").strip()
    try:
        return float(raw) if raw else STALE_AFTER_S
    except ValueError:
        raise ValueError(f"{STALE_ENV} must be a number of seconds, not {raw!r}") from None


@lru_cache(maxsize=1)
def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _process_start(pid: int) -> int | None:
    """A process's start time in clock ticks since boot (field 22 of /proc/PID/stat); None off Linux or
    when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def this_process() -> dict[str, Any]:
    """The ``owner`` attrs of a run opened by this process."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "boot_id": _boot_id(), "process_start": _process_start(pid)}


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def owner_alive(owner: dict[str, Any]) -> bool | None:
    """True or False when the owner ran on this host (this boot), None when this host cannot tell."""
    if owner.get("host") != socket.gethostname() or not isinstance(owner.get("pid"), int):
        return None
    if owner.get("boot_id") and _boot_id() and owner["boot_id"] != _boot_id():
        return False  # this machine restarted since: every process of that boot is gone
    if not _pid_exists(owner["pid"]):
        return False
    if owner.get("process_start") is None:
        return None  # an older record: the pid exists, but it may be another process now
    return _process_start(owner["pid"]) == owner["process_start"]


def _age_s(stamp: Any, now: datetime) -> float | None:
    try:
        return (now - datetime.fromisoformat(str(stamp))).total_seconds()
    except ValueError:
        return None


def abandoned_reason(attrs: dict[str, Any], now: datetime | None = None) -> str | None:
    """Why a ``running`` run is abandoned, or None (also for any run not stored as ``running``)."""
    if attrs.get("status") != "running":
        return None
    owner = attrs.get("owner") or {"host": attrs.get("host"), "pid": attrs.get("pid")}
    alive = owner_alive(owner)
    if alive is False:
        return f"its owner, pid {owner['pid']} on {owner['host']}, is gone"
    if alive:
        return None
    now = now or datetime.now(timezone.utc)
    last = attrs.get("heartbeat_at") or attrs.get("started_at")
    age = _age_s(last, now) if last else None
    limit = stale_after()
    if age is not None and age > limit:
        return (f"no heartbeat for {age:.0f} s (limit {limit:g} s) from its owner, pid {owner.get('pid')} on "
                f"{owner.get('host')}")
    return None


def run_status(attrs: dict[str, Any], now: datetime | None = None) -> str | None:
    """The status to show: the stored one, or ``abandoned`` for a ``running`` run whose owner is gone."""
    return "abandoned" if abandoned_reason(attrs, now) else attrs.get("status")
