"""Run the real engine (`python -m engine`) as a child process for tests and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class EngineProcess:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    api_key: str | None = None

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    def health(self) -> dict:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_engine(log_dir: Path, ready_timeout: float = 240, **settings: object) -> EngineProcess:
    """Start an engine with ENGINE_* settings (e.g. max_batch=2) and wait until /health says ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    env.update({"ENGINE_HOST": "127.0.0.1", "ENGINE_PORT": str(port), "PYTHONUNBUFFERED": "1"})
    env.update({f"ENGINE_{k.upper()}": str(v) for k, v in settings.items()})
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"engine-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "engine"], cwd=ROOT, env=env, stdout=log, stderr=log)
    engine = EngineProcess(f"http://127.0.0.1:{port}", proc, log_path, env.get("ENGINE_API_KEY"))
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"engine exited with {proc.returncode}:\n{engine.log()[-3000:]}")
        try:
            if engine.health().get("status") == "ready":
                return engine
        except (OSError, json.JSONDecodeError):  # refused, reset, or a /health slower than 5 s on a busy box
            pass
        time.sleep(0.2)
    engine.stop()
    raise RuntimeError(f"engine not ready after {ready_timeout}s:\n{engine.log()[-3000:]}")
