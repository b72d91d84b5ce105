"""A small Ray cluster on this machine, for tests/test_cluster.py and benchmarks/cluster.py: `ray start --head`
and worker nodes of one CPU each, every node its own process group.

Stopping sends SIGTERM to each group, then SIGKILL (Ray answers SIGTERM slowly); the worker processes a raylet
started (actors, in process groups of their own) exit with it, and any still there are ended by process id.
Ray 2.60 advertises the machine's address for a node started with --node-ip-address 127.0.0.1 (only a
single-node cluster may keep the loopback address), so drivers reach it as 127.0.0.1:<port> while its
processes listen on every interface of this machine.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_table() -> list[tuple[int, int, int, str]]:
    """(pid, parent pid, process group, command name) of every process, from /proc."""
    rows = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        rows.append((int(entry.name), int(fields[1]), int(fields[2]), name))
    return rows


def _alive(pid: int, name: str) -> bool:
    """Whether process `pid` still runs under the same command name (not a zombie, not a reused id)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.index("(") + 1:stat.rindex(")")] == name and stat.rsplit(")", 1)[1].split()[0] != "Z"


class LocalCluster:
    """A head node (1 CPU) on a free port, plus the worker nodes `add_worker` starts."""

    def __init__(self, logs: Path, env: dict[str, str] | None = None):
        self.logs, self.port, self.client_port = logs, free_port(), free_port()
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.nodes: list[subprocess.Popen] = []
        self._workers_seen: set[tuple[int, str]] = set()  # (pid, name) our raylets started: ended if they outlive them

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def client_address(self) -> str:
        return f"ray://127.0.0.1:{self.client_port}"

    def _start(self, args: list[str]) -> None:
        log = open(self.logs / f"node{len(self.nodes)}.log", "wb")
        self.nodes.append(subprocess.Popen(["ray", "start", "--block", "--num-cpus", "1", "--disable-usage-stats",
                                            "--node-ip-address", "127.0.0.1", *args], env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True))
        log.close()

    def start(self, workers: int = 1, timeout: float = 120.0) -> "LocalCluster":
        self._start(["--head", "--port", str(self.port), "--ray-client-server-port", str(self.client_port),
                     "--include-dashboard=false"])
        self.wait_nodes(1, timeout)
        for _ in range(workers):
            self.add_worker(timeout)
        return self

    def add_worker(self, timeout: float = 120.0) -> None:
        wanted = len(self.live_nodes()) + 1
        self._start(["--address", self.address])
        self.wait_nodes(wanted, timeout)

    def live_nodes(self) -> list[subprocess.Popen]:
        return [n for n in self.nodes if n.poll() is None]

    def alive(self) -> int:
        """Nodes the cluster counts as active (`ray status`)."""
        out = subprocess.run(["ray", "status", "--address", self.address], capture_output=True, text=True,
                             env=self.env, timeout=60).stdout
        active = out.split("Active:", 1)[-1].split("Pending:", 1)[0] if "Active:" in out else ""
        return sum(" node_" in line for line in active.splitlines())

    def wait_nodes(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.alive() < n:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.nodes[-1:]):
                self.stop()
                raise RuntimeError(f"the Ray cluster did not reach {n} nodes; see {self.logs}")
            time.sleep(1.0)

    def raylet(self, node: subprocess.Popen) -> int:
        """The process id of a node's raylet (in the node's process group)."""
        return next(pid for pid, _, group, name in _proc_table() if group == node.pid and name == "raylet")

    def _note_workers(self) -> None:
        raylets = {pid for pid, _, group, name in _proc_table()
                   if name == "raylet" and group in {n.pid for n in self.nodes}}
        self._workers_seen |= {(pid, name) for pid, parent, _, name in _proc_table() if parent in raylets}

    def kill_raylet(self, node: subprocess.Popen) -> int:
        """SIGKILL a node's raylet, as a machine lost would; its workers go with it. Returns its pid."""
        self._note_workers()
        pid = self.raylet(node)
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        self._note_workers()
        for node in reversed(self.nodes):
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for node in reversed(self.nodes):
            try:
                node.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(node.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            node.wait()
        deadline = time.monotonic() + 10
        while any(_alive(*p) for p in self._workers_seen) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid, name in self._workers_seen:
            if _alive(pid, name):
                os.kill(pid, signal.SIGKILL)
        self.nodes = []
