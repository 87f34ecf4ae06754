"""scripts/demo, the README's demo command, as CI's step "The demo command serves the dashboard" runs it: with
a Python that only records its calls, so nothing is installed, migrated or served."""

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAKE_PYTHON = """#!/usr/bin/env bash
echo "PYTHONUNBUFFERED=${PYTHONUNBUFFERED:-} $*" >> "$(dirname "$0")/calls"
"""


@pytest.fixture
def demo(tmp_path):
    """A copy of the scripts beside a .venv whose python records its calls; run(port) runs the demo."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)

    def run(port: int) -> subprocess.CompletedProcess:
        env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
        return subprocess.run(
            [shutil.which("bash"), "scripts/demo"],
            cwd=tmp_path,
            env={**env, "PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
        )

    run.calls = python.parent / "calls"
    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_demo_refuses_a_port_already_served_before_doing_anything(demo):
    # given: something already serves the port (a demo left over by an earlier run)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        # when
        result = demo(port)
    # then: a clear refusal, before installing, migrating or seeding
    assert result.returncode == 1
    assert f"Port {port} is already in use" in result.stderr
    assert not demo.calls.exists(), demo.calls.read_text()


def test_the_demo_runs_python_unbuffered_so_its_log_shows_each_line_when_written(demo):
    result = demo(free_port())
    assert result.returncode == 0, result.stderr
    calls = demo.calls.read_text().splitlines()
    assert [call.split()[1:3] for call in calls][-3:] == [
        ["manage.py", "migrate"],
        ["manage.py", "seed_demo"],
        ["manage.py", "runserver"],
    ]
    assert all(call.startswith("PYTHONUNBUFFERED=1 ") for call in calls), calls
