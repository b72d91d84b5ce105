"""Joining an existing Ray cluster as its driver, or saying in one line why not.

A wrong address must not cost a minute of Ray's own retries: a `host:port` or `ray://host:port` address is
first tried with a plain TCP connection of a few seconds.
"""
from __future__ import annotations

import logging
import socket
from urllib.parse import urlparse

from ..errors import HarError

CONNECT_TIMEOUT_S = 3.0


def check_address(address: str) -> tuple[str, int] | None:
    """(host, port) of a `host:port` or `ray://host:port` address, None for `auto`; a malformed one is an error."""
    if address == "auto":
        return None
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if parsed.scheme not in ("tcp", "ray"):
        raise HarError(f"--ray takes auto, host:port or ray://host:port, not {address!r}")
    try:
        port = parsed.port
    except ValueError:
        port = None
    if not parsed.hostname or port is None:
        raise HarError(f"--ray takes auto, host:port or ray://host:port, not {address!r} (no port)")
    return parsed.hostname, port


def _reachable(host: str, port: int, address: str) -> None:
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise HarError(f"no Ray cluster answers at {address} ({reason.lower()})") from None


def connect(address: str) -> int:
    """Join the cluster at `address` as a driver; returns its CPUs (the default number of workers).

    Ray is imported here, not before: the app and every local command run without it.
    """
    target = check_address(address)
    if target is not None:
        _reachable(*target, address)
    try:
        import ray
    except ImportError:
        raise HarError("--ray needs Ray: pip install -r requirements-ray.txt") from None
    try:
        # through Ray Client (ray://) Ray Data's progress is logged on the head: its logs come here
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=address.startswith("ray://"))
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise HarError(f"cannot join the Ray cluster at {address}: {str(exc).strip().splitlines()[0]}") from None
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def disconnect() -> None:
    import ray

    ray.shutdown()
