"""A sandbox in a child process: `p2c-sandbox serve` on two free loopback ports, for as long as a block runs.

The tests, the benchmarks and anything else that needs a throwaway pair of services start one the
same way, here: over real HTTP, so what they exercise is what a client of a real tenant meets.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import requests

from p2c_sandbox.auth import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SandboxHandle:
    """A running sandbox: its URLs, the demo app registration and its control endpoints."""

    dataverse_url: str
    finops_url: str
    data_dir: Path
    tenant: str = DEMO_TENANT
    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    pid: int | None = None  # the server process (for its CPU time and memory)
    exit_code: int | None = None

    @property
    def ca_bundle(self) -> str:
        return str(self.data_dir / "ca.pem")

    @property
    def _verify(self):
        return self.ca_bundle if self.dataverse_url.startswith("https") else True

    @property
    def authority_host(self) -> str:
        return self.dataverse_url

    @property
    def token_url(self) -> str:
        return f"{self.authority_host}/{self.tenant}/oauth2/v2.0/token"

    def _each_service(self, method: str, path: str, **kwargs) -> None:
        for url in (self.dataverse_url, self.finops_url):
            requests.request(method, f"{url}/_sandbox/{path}", timeout=10, verify=self._verify,
                             **kwargs).raise_for_status()

    def set_faults(self, **changes) -> None:
        """Merge fault settings into both services (keys as in docs/architecture.md section 1)."""
        self._each_service("PUT", "faults", json=changes)

    def reset_faults(self) -> None:
        self._each_service("POST", "reset-faults")

    def token(self, service: str = "dataverse") -> str:
        """A fresh bearer token for "dataverse" or "finops"."""
        audience = self.dataverse_url if service == "dataverse" else self.finops_url
        response = requests.post(self.token_url, timeout=10, verify=self._verify, data={
            "grant_type": "client_credentials", "client_id": self.client_id,
            "client_secret": self.client_secret, "scope": f"{audience}/.default"})
        response.raise_for_status()
        return response.json()["access_token"]


@contextmanager
def running_sandbox(data_dir: Path, tls: bool = False) -> Iterator[SandboxHandle]:
    """Run `p2c-sandbox serve` on two free ports until the block ends; yields a SandboxHandle.

    The server's output goes to `server.log` in `data_dir`; its fault randomness is seeded (7), so a
    session meets the same faults each time it runs.
    """
    dv_port, fo_port = free_port(), free_port()
    scheme = "https" if tls else "http"
    handle = SandboxHandle(f"{scheme}://127.0.0.1:{dv_port}", f"{scheme}://127.0.0.1:{fo_port}", data_dir)
    log_path = data_dir / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "p2c_sandbox.cli", "serve", "--data", str(data_dir), "--dataverse-port",
             str(dv_port), "--finops-port", str(fo_port), "--fault-seed", "7", *(["--tls"] if tls else [])],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        handle.pid = proc.pid
        try:
            wait_healthy(proc, handle, log_path, verify=str(data_dir / "ca.pem") if tls else True)
            yield handle
        finally:
            proc.terminate()
            try:
                handle.exit_code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def seeded_sandbox(data_dir: Path, *, scale: int, seed: int, products_active: bool = False) -> Iterator[SandboxHandle]:
    """`p2c-sandbox seed` a company of `scale` accounts (repeatable by `seed`) into `data_dir`, then
    `running_sandbox` on it; `products_active`: its Sales creates products Active (`seed --products-active`)."""
    subprocess.run([sys.executable, "-m", "p2c_sandbox.cli", "seed", "--data", str(data_dir), "--scale", str(scale),
                    "--seed", str(seed), *(["--products-active"] if products_active else [])],
                   check=True, stdout=subprocess.DEVNULL)
    with running_sandbox(data_dir) as handle:
        yield handle


def wait_healthy(proc: subprocess.Popen, handle: SandboxHandle, log_path: Path, verify) -> None:
    """Until both health endpoints answer (10 s at most); the server's log in the error if it exits."""
    deadline = time.monotonic() + 10
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"sandbox exited: {log_path.read_text()}")
        try:
            if all(requests.get(f"{u}/_sandbox/health", timeout=1, verify=verify).ok
                   for u in (handle.dataverse_url, handle.finops_url)):
                return
        except (requests.ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("sandbox did not become healthy within 10 s")
        time.sleep(0.05)
