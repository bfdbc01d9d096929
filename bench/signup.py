"""The sign-up form's clock (issue 24, the timing oracle). Not a test: prints numbers and whether
the target is met.

    python bench/signup.py [--rounds 40] [--relay-delay 0.05]

`digest serve`'s app under a real uvicorn on loopback, mailing through a real SMTP relay (aiosmtpd)
that waits --relay-delay before accepting each message, like a relay across a network. Each round
posts the sign-up form once for an address that is already active (the baseline: no mail) and
once for a new one (a confirmation mail), in turn. Target: the new addresses' median answer time
within 1.5× of the active ones' (before the fix the mail was sent before the answer: ~88 ms
against ~13 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiosmtpd.controller import Controller

from digest.models import Subscriber
from digest.project import init_project, open_project
from digest.web import create_app, server_config


class SlowRelay:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        self.received += 1
        return "250 2.0.0 queued"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--relay-delay", type=float, default=0.05)
    args = parser.parse_args()

    relay_handler = SlowRelay(args.relay_delay)
    relay = Controller(relay_handler, hostname="127.0.0.1", port=free_port())
    relay.start()
    os.environ["DIGEST_SMTP_URL"] = f"smtp://127.0.0.1:{relay.port}?starttls=no"
    os.environ.setdefault("DIGEST_SECRET", "a-bench-secret-of-at-least-thirty-two-bytes")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "news"
        init_project(root).close()
        config = root / "digest.toml"
        text = config.read_text()
        for old, new in [
            ("signups_per_client_hour = 20", "signups_per_client_hour = 0"),
            ("confirmations_per_address_day = 3", "confirmations_per_address_day = 0"),
        ]:
            assert old in text, old
            text = text.replace(old, new)
        config.write_text(text)
        project = open_project(root)
        for n in range(args.rounds):
            project.store.subscribe(
                Subscriber(f"active{n}@example.net", "", "example"), origin="web"
            )
        port = free_port()
        server = uvicorn.Server(server_config(create_app(project), port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        times: dict[str, list[float]] = {"active": [], "new": []}
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Host": "127.0.0.1:8080"}
        ) as browser:
            found = re.search(r'name="csrf" value="([^"]+)"', browser.get("/subscribe").text)
            assert found
            for n in range(args.rounds):
                for kind in ("active", "new"):
                    email = f"{kind}{n}@example.net"
                    started = time.perf_counter()
                    browser.post("/subscribe", data={"csrf": found.group(1), "email": email})
                    times[kind].append(time.perf_counter() - started)
                    time.sleep(args.relay_delay * 3)  # let the mail of the last one go
        server.should_exit = True
        thread.join(timeout=10)
        project.close()
    relay.stop()
    active, new = (statistics.median(times[k]) * 1000 for k in ("active", "new"))
    ratio = new / active
    print(f"relay delay {args.relay_delay * 1000:.0f} ms, {args.rounds} rounds")
    print(f"median answer: active (baseline) {active:.1f} ms, new address {new:.1f} ms")
    print(f"confirmation mails received: {relay_handler.received}")
    print(f"ratio new/active {ratio:.2f} (target ≤ 1.5): {'met' if ratio <= 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
