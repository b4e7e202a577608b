"""A throwaway multi-node Ray cluster on this machine, every server bound to 127.0.0.1.

Built on Ray's own multi-node test cluster (:class:`ray.cluster_utils.Cluster`): a head, with Ray Client's
server when asked, and worker nodes, each a raylet of its own, all owned by this process (they end with it).
Chosen over two ``ray start`` processes because ``ray start`` cannot keep a multi-node cluster on the
loopback: a joining node is refused unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1``, and with that set the
GCS and raylets listen on every interface. The sweep under test is still a process of its own
(``findings sweep --backend ray --address …``), connecting as it would to a real cluster.

:meth:`LocalRayCluster.kill` removes a node without grace: its raylet and every process of the node get
SIGKILL — a node crash. Only processes started here are ever signalled (never ``ray stop``, which would end
every Ray on the machine).
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

# The cluster's own environment, set while it lives (engine.sweep.backends.import_ray does the rest:
# loopback addresses stay 127.0.0.1). Token authentication is off for this loopback cluster, explicitly:
# left unset, a head turns it on when ~/.ray/auth_token exists and what joins must agree. RAY_TMPDIR keeps
# its session files, and the "current cluster" address file a head writes, in a directory of its own:
# under /tmp/ray, that file would make anyone's plain ray.init() on this machine join this cluster.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class LocalRayCluster:
    """``LocalRayCluster(head_cpus, client_server)``; ``add_worker(num_cpus)``, ``busy(node)``, ``kill(node)``,
    ``stop()``; ``address`` (the GCS, for ``--address``) and ``client_address`` (``ray://…``)."""

    def __init__(self, head_cpus: int = 1, client_server: bool = False):
        self.tmp = tempfile.mkdtemp(prefix="fray-")  # short: Ray's socket paths live below it
        self._env = {**RAY_ENV, "RAY_TMPDIR": self.tmp}
        self._saved = {k: os.environ.get(k) for k in self._env}
        os.environ.update(self._env)
        from engine.sweep.backends import import_ray

        import_ray("127.0.0.1:0")
        from ray.cluster_utils import Cluster

        self.client_port = free_port() if client_server else None
        head: dict[str, Any] = {"num_cpus": head_cpus, "num_gpus": 0, "include_dashboard": False}
        if self.client_port:
            head["ray_client_server_port"] = self.client_port
        self._cluster = Cluster(initialize_head=True, head_node_args=head)
        self.workers: list[Any] = []

    @property
    def address(self) -> str:
        return self._cluster.address

    @property
    def client_address(self) -> str:
        return f"ray://127.0.0.1:{self.client_port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment a driver process of this cluster runs with."""
        return {**os.environ, **self._env}

    def add_worker(self, num_cpus: int = 1) -> Any:
        node = self._cluster.add_node(num_cpus=num_cpus, num_gpus=0)
        self._cluster.wait_for_nodes()
        self.workers.append(node)
        return node

    def busy(self, node: Any, task: str = "run_cell") -> int:
        """How many of ``node``'s task workers are executing ``task`` now (Ray titles them ``ray::TASK``)."""
        raylet = node.all_processes["raylet"][0].process.pid
        return sum(_cmdline(pid).startswith(f"ray::{task}") for pid in _children(raylet))

    def kill(self, node: Any) -> None:
        """The node crashes: its raylet and every process of the node get SIGKILL."""
        self._cluster.remove_node(node, allow_graceful=False)
        self.workers.remove(node)

    def stop(self) -> None:
        try:
            self._cluster.shutdown()
        finally:
            for key, value in self._saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> LocalRayCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
