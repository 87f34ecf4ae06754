"""The benchmark harness: each scenario times our code beside a baseline run in the same process, and prints one
JSON line {scenario, figure, unit, baseline, ratio, ...}. Benchmarks are not tests: nothing here asserts."""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def setup_django() -> None:
    """Configure Django for a benchmark run: the project settings, PostgreSQL and Redis from the environment."""
    root = Path(__file__).resolve().parent
    sys.path[:0] = [str(root.parent), str(root)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query in memory and slows everything
    import django

    django.setup()


def rate(work: Callable[[], None], *, repeat: int, rounds: int = 3) -> float:
    """Operations per second of `work` (called `repeat` times per round), the best of `rounds`."""
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeat):
            work()
        best = max(best, repeat / (time.perf_counter() - started))
    return best


def server_times_ms(access_log: str, offset: int, path: str) -> tuple[list[float], int]:
    """The server times (ms) of requests to `path` written to `access_log` (see gunicorn_serving) after byte
    `offset`, and the offset of the log's end."""
    with open(access_log, "rb") as f:
        f.seek(offset)
        lines = f.read().decode().splitlines()
        end = f.tell()
    return [int(us) / 1000 for p, us in (line.rsplit(" ", 1) for line in lines) if p == path], end


def wrk_run(script: str, url: str, *, threads: int, clients: int, seconds: int) -> dict:
    """Run wrk with the Lua `script` (whose done() writes one JSON line with requests, duration_us and p50/p95/p99_us)
    against `url`; echo the first lines wrk wrote to stderr and return that JSON with the rate (requests/s), the
    seconds run and the percentiles in ms added."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{clients}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                f.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(f.name)
    for line in out.stderr.splitlines()[:3]:
        print(line, file=sys.stderr)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    seconds_run = result["duration_us"] / 1e6
    return {
        **result,
        "rate": result["requests"] / seconds_run,
        "seconds": seconds_run,
        **{f"p{q}_ms": result[f"p{q}_us"] / 1000 for q in (50, 95, 99)},
    }


def report(scenario: str, *, figure: float, baseline: float, unit: str, **extra) -> dict:
    """Print and return one result line; ratio = figure / baseline (higher figure is better for rates)."""
    line = {
        "scenario": scenario,
        "figure": round(figure, 1),
        "unit": unit,
        "baseline": round(baseline, 1),
        "ratio": round(figure / baseline, 3) if baseline else None,
        **extra,
    }
    print(json.dumps(line, ensure_ascii=False), flush=True)
    return line


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextmanager
def gunicorn_serving(app: str, *, workers: int, log=None, access_log: str | None = None) -> Iterator[str]:
    """Serve the WSGI `app` with gunicorn on a free loopback port, on production settings without throttling;
    yield its base URL once /healthz answers, and stop it afterwards. `log`: a file descriptor for its output.
    `access_log`: a file where gunicorn writes "<path> <microseconds>" per request, the time the worker spent on it
    from the parsed request to the sent answer (server time: the wait in the listen queue is not in it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "bench-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "API_THROTTLE_RATE": "1e9",
        "API_THROTTLE_BURST": "1000000000",
        "SECURE_COOKIES": "false",
        "SECURE_SSL_REDIRECT": "false",  # plain http on loopback; behind the TLS proxy the check costs nothing
        "LOG_LEVEL": "WARNING",
    }
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(
        [
            str(root / ".venv/bin/gunicorn"),
            app,
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            *(["--access-logfile", access_log, "--access-logformat", "%(U)s %(D)s"] if access_log else []),
        ],
        cwd=root,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
    )
    try:
        import requests as http

        for _ in range(100):
            try:
                if http.get(base + "/healthz", timeout=10).status_code == 200:
                    break
            except http.RequestException:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not answer /healthz")
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
