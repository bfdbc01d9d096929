"""Several send workers on one issue (issues 17 and 25). Not a test: prints numbers and whether the
targets are met.

    python bench/workers.py DATASET [--subscribers 4000]

DATASET is a folder of plain-text articles (first line the title), as for bench/send.py; ten
make the issue. Against a loopback relay (its own process) that waits 200 ms before every RCPT
and DATA reply, each worker a `digest send --concurrency 16` process of its own:

- 1 and 3 workers on one issue sharing a PostgreSQL started here (Debian's server binaries,
  initdb + pg_ctl in a temporary folder, as the tests start theirs);
- 1 worker on the project's SQLite file.

Targets (issue 25): 3 workers ≥ 2.5× one, one PostgreSQL worker ≥ 0.9× one SQLite worker.
Also prints the store round-trips per message (statements and transaction ends the workers sent
to the store, counted by the store's connection layer, the recorder's connection included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from postgres_support import PASSWORD, postgres_server  # noqa: E402
from send import RelayProcess  # noqa: E402
from send import make_project as make_send_project  # noqa: E402

DELAY = 0.2
CONCURRENCY = 16

# `digest send`, printing the store round-trips of the process when it exits
_COUNTED_MAIN = """
import atexit, sys
from digest.store import database
opened = []
init = database.Database.__init__
def counted(self, *args, **kwargs):
    init(self, *args, **kwargs)
    opened.append(self)
database.Database.__init__ = counted
atexit.register(lambda: print(
    "ROUND_TRIPS=%d" % sum(db.round_trips for db in opened), file=sys.stderr))
sys.argv[0] = "digest"
from digest.cli import main
main()
"""


def run_workers(
    root: Path, relay_url: str, workers: int, env: dict[str, str]
) -> tuple[float, int, int, float]:
    """(messages per second, messages sent, store round-trips, CPU seconds) of `workers`
    processes."""
    cpu_before = _children_cpu()
    args = ["--project", str(root), "send", "--smtp-url", relay_url, "--json"]
    args += ["--concurrency", str(CONCURRENCY)]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _COUNTED_MAIN, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    outputs = [process.communicate() for process in processes]
    elapsed = time.perf_counter() - started
    trips = 0
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise SystemExit(f"a worker failed ({process.returncode}): {stderr[-2000:]}")
        trips += sum(
            int(line.split("=")[1])
            for line in stderr.splitlines()
            if line.startswith("ROUND_TRIPS=")
        )
    sent = int(json.loads(outputs[0][0].splitlines()[-1])["sent"])
    return sent / elapsed, sent, trips, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def show(label: str, rate: float, sent: int, trips: int, cpu: float) -> None:
    print(
        f"{label + ':':26}{rate:7.1f} msg/s ({sent} sent;"
        f" {trips / sent:.2f} store round-trips/message;"
        f" {cpu / sent * 1000:.1f} ms CPU/message, the workers' own)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path, help="folder of *.txt articles")
    parser.add_argument("--subscribers", type=int, default=4000)
    args = parser.parse_args()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}

    with tempfile.TemporaryDirectory() as tmp, postgres_server() as server:
        if isinstance(server, str):
            raise SystemExit(server)
        template = make_send_project(Path(tmp) / "template", args.dataset, args.subscribers)
        relay = RelayProcess(DELAY)
        print(
            f"{args.subscribers} subscribers; relay waits {DELAY * 1000:.0f} ms before RCPT and"
            f" DATA; --concurrency {CONCURRENCY} per worker"
        )
        results: dict[str, float] = {}
        try:
            sqlite_root = Path(tmp) / "sqlite"
            shutil.copytree(template, sqlite_root)
            rate, sent, trips, cpu = run_workers(sqlite_root, relay.url, 1, base_env)
            results["sqlite"] = rate
            show("SQLite, 1 worker", rate, sent, trips, cpu)
            for workers in (1, 3):
                url = server.new_database()
                root = Path(tmp) / f"postgres{workers}"
                shutil.copytree(template, root)
                # one signing secret for every worker, as on several hosts
                env = base_env | {"PGPASSWORD": PASSWORD, "DIGEST_SECRET": secrets.token_hex(16)}
                copy = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "digest",
                        "--project",
                        str(root),
                        "store",
                        "copy",
                        "--to",
                        url,
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if copy.returncode:
                    raise SystemExit(copy.stderr)
                env["DIGEST_DATABASE_URL"] = url
                rate, sent, trips, cpu = run_workers(root, relay.url, workers, env)
                results[f"pg{workers}"] = rate
                show(f"PostgreSQL, {workers} worker(s)", rate, sent, trips, cpu)
        finally:
            relay.stop()
        for label, ratio, target in (
            ("3 workers / 1 worker", results["pg3"] / results["pg1"], 2.5),
            ("1 PostgreSQL worker / 1 SQLite worker", results["pg1"] / results["sqlite"], 0.9),
        ):
            verdict = "met" if ratio >= target else "NOT met"
            print(f"{label} = {ratio:.2f}× (target ≥ {target}×): {verdict}")


if __name__ == "__main__":
    main()
