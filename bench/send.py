"""Send throughput and memory (issue 6). Not a test: prints numbers and whether targets are met.

    python bench/send.py DATASET [--messages 2000] [--naive 40] [--recipients 100000]

DATASET is a folder of plain-text articles (first line the title), e.g. the BBC News Summary
`dev/articles/politics`; ten of them make the issue, so each message is a realistic digest.

1. Throughput against a loopback relay (its own process) that waits 50 ms before every RCPT and
   DATA reply, like a relay across a network:
   - naive: sequential smtplib, a new connection per message;
   - bare pool: 32 aiosmtplib connections sending one prebuilt message;
   - digest: `send_issue` with --concurrency 32 (builds, sends and records every message).
   Targets: digest ≥ 20× naive and ≥ 70% of the bare pool.
2. DKIM: the same `send_issue` with every message signed (2048-bit RSA), against the unsigned
   one. Target: signed ≥ 0.8× unsigned (issue 12).
3. Peak RSS of `digest send` (a subprocess) to --recipients subscribers against a relay with no
   delay. Target ≤ 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

DELAY = 0.05
CONCURRENCY = 32


# -- the relay (run in its own process: `bench/send.py --serve PORT DELAY`) ----------------------


class SlowRelay(asyncio.Protocol):
    """A minimal SMTP sink: replies to RCPT and to the end of DATA after `delay` seconds, reads
    DATA in chunks. Cheap per message, so the client side is what gets measured (aiosmtpd reads
    DATA line by line and would be the bottleneck on a small machine)."""

    delay = DELAY

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        self.loop = asyncio.get_running_loop()
        transport.write(b"220 bench relay ESMTP\r\n")

    def _reply(self, line: bytes, delay: float = 0.0) -> None:
        if delay:
            self.loop.call_later(delay, self._write, line)
        else:
            self._write(line)

    def _write(self, line: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(line + b"\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    # keep only what could still be the start of the terminator
                    self.buffer = self.buffer[-4:]
                    return
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                self._reply(b"250 2.0.0 queued", self.delay)
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                return
            self.buffer = rest
            verb = line[:4].upper()
            if verb == b"EHLO":
                self._write(b"250-bench\r\n250-8BITMIME\r\n250 PIPELINING")
            elif verb == b"HELO":
                self._reply(b"250 bench")
            elif verb == b"RCPT":
                self._reply(b"250 2.1.5 ok", self.delay)
            elif verb == b"DATA":
                self.in_data = True
                self._reply(b"354 go ahead")
            elif verb == b"QUIT":
                self._reply(b"221 bye")
                self.transport.close()
                return
            else:  # MAIL, RSET, NOOP
                self._reply(b"250 ok")


def serve(port: int, delay: float) -> None:
    SlowRelay.delay = delay

    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(
            SlowRelay, "127.0.0.1", port, backlog=512
        )
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(run())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RelayProcess:
    def __init__(self, delay: float) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(self.port), str(delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=no"


# -- the project ----------------------------------------------------------------------------------


def add_dkim_key(root: Path) -> None:
    """A fresh 2048-bit key and the settings that make every message signed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (root / "dkim.pem").write_bytes(pem)
    config = root / "digest.toml"
    text = config.read_text(encoding="utf-8")
    settings = '[transport]\ndkim_selector = "bench"\ndkim_key_file = "dkim.pem"\n'
    config.write_text(text.replace("[transport]\n", settings, 1), encoding="utf-8")


def make_project(root: Path, dataset: Path, recipients: int) -> Path:
    from digest.models import Article, IssueEntry
    from digest.project import init_project, open_project
    from digest.render import render_issue

    project = init_project(root)
    # a send over SMTP refuses `digest init`'s placeholder sender (digest/send/preflight.py)
    config = project.config.path
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("digest@example.org", "digest@political-digest.net"))
    project.close()
    project = open_project(root)
    for path in project.subscribers_dir.glob("*.csv"):
        path.unlink()
    with (project.subscribers_dir / "readers.csv").open("w", encoding="utf-8") as f:
        f.write("email,name,city\n")
        for n in range(recipients):
            f.write(f"reader{n:06d}@example.net,Reader Number {n},Leeds\n")
    entries = []
    for n, path in enumerate(sorted(dataset.glob("*.txt"))[:10]):
        title, _, body = path.read_text(encoding="utf-8", errors="replace").partition("\n")
        paragraphs = [p.strip() for p in body.split("\n") if p.strip()]
        url = f"https://www.bbc.co.uk/news/{n}"
        published = datetime(2026, 3, 2, tzinfo=UTC)
        article_id, _ = project.store.add_article(
            Article(title=title.strip(), body=body, source_url=url, published=published)
        )
        entries.append(
            IssueEntry(
                article_id=article_id,
                title=title.strip(),
                source_url=url,
                source_name="bbc.co.uk",
                published=published,
                authors=[],
                summary=paragraphs[:3],
                political_score=0.9,
            )
        )
    if not entries:
        raise SystemExit(f"{dataset}: no *.txt articles")
    subject = "The Political Digest 2026-W10"
    parts = render_issue(
        entries, config=project.config, template_dirs=project.template_dirs, subject=subject
    )
    project.store.create_issue(
        key="2026-W10", subject=subject, entries=entries, html=parts.html, text=parts.text
    )
    project.close()
    return root


def sample_message(root: Path) -> bytes:
    from digest.message import MessageFactory
    from digest.models import Subscriber
    from digest.project import open_project
    from digest.tokens import load_secret

    project = open_project(root)
    issue = project.store.latest_issue()
    factory = MessageFactory(issue, project.config, load_secret(project.state_dir, None))
    data: bytes = factory.envelope(Subscriber("someone@example.net", "Some One")).data
    project.close()
    return data


# -- the three contenders -------------------------------------------------------------------------


def naive(url_port: int, message: bytes, count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        with smtplib.SMTP("127.0.0.1", url_port) as client:
            client.sendmail("digest@example.org", [f"n{n}@example.net"], message)
    return count / (time.perf_counter() - started)


async def _bare_pool(port: int, message: bytes, count: int) -> float:
    import aiosmtplib

    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def connection() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        while not queue.empty():
            n = queue.get_nowait()
            await client.sendmail("digest@example.org", [f"b{n}@example.net"], message)
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - started)


def digest_send(root: Path, url: str) -> tuple[float, dict[str, int]]:
    from digest.project import open_project
    from digest.send import send_issue

    project = open_project(root)
    started = time.perf_counter()
    report = send_issue(project, None, smtp_url=url, concurrency=CONCURRENCY)
    elapsed = time.perf_counter() - started
    project.close()
    return report.run.sent / elapsed, report.summary()


# `digest` itself, reporting its own peak RSS when it exits (RUSAGE_CHILDREN would also count
# the relay processes)
_MEASURED_MAIN = """
import atexit, resource, sys
atexit.register(lambda: print(
    "PEAK_RSS_KB=%d" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr))
sys.argv[0] = "digest"
from digest.cli import main
main()
"""


def peak_rss(root: Path, url: str) -> tuple[float, float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURED_MAIN,
            "--project",
            str(root),
            "send",
            "--smtp-url",
            url,
            "--concurrency",
            "16",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    peak_kb = [line for line in result.stderr.splitlines() if line.startswith("PEAK_RSS_KB=")]
    peak_mb = int(peak_kb[-1].split("=")[1]) / 1024 if peak_kb else float("nan")
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr
    return peak_mb, elapsed, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path, help="folder of *.txt articles")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--naive", type=int, default=40)
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(Path(tmp) / "throughput", args.dataset, args.messages)
        message = sample_message(root)
        print(f"message size: {len(message) / 1024:.1f} KB; relay delay {DELAY * 1000:.0f} ms")

        relay = RelayProcess(DELAY)
        try:
            naive_rate = naive(relay.port, message, args.naive)
            print(f"naive smtplib, connection per message: {naive_rate:8.1f} msg/s")
            pool_rate = asyncio.run(_bare_pool(relay.port, message, args.messages))
            print(f"bare aiosmtplib pool ({CONCURRENCY}):          {pool_rate:8.1f} msg/s")
            digest_rate, summary = digest_send(root, relay.url)
            print(f"digest send --concurrency {CONCURRENCY}:        {digest_rate:8.1f} msg/s")
            print(f"  {summary}")
            signed_root = make_project(Path(tmp) / "signed", args.dataset, args.messages)
            add_dkim_key(signed_root)
            signed_rate, summary = digest_send(signed_root, relay.url)
            print(f"digest send, DKIM-signed (2048-bit):  {signed_rate:8.1f} msg/s")
            print(f"  {summary}")
        finally:
            relay.stop()
        ratio_naive, ratio_pool = digest_rate / naive_rate, digest_rate / pool_rate
        print(
            f"digest / naive = {ratio_naive:.1f}× (target ≥ 20×): "
            f"{'met' if ratio_naive >= 20 else 'NOT met'}"
        )
        print(
            f"digest / bare pool = {ratio_pool:.0%} (target ≥ 70%): "
            f"{'met' if ratio_pool >= 0.7 else 'NOT met'}"
        )
        ratio_signed = signed_rate / digest_rate
        print(
            f"DKIM-signed / unsigned = {ratio_signed:.2f}× (target ≥ 0.8×): "
            f"{'met' if ratio_signed >= 0.8 else 'NOT met'}"
        )

        if args.recipients:
            big = make_project(Path(tmp) / "memory", args.dataset, args.recipients)
            relay = RelayProcess(0.0)
            try:
                peak_mb, elapsed, last = peak_rss(big, relay.url)
            finally:
                relay.stop()
            print(
                f"{args.recipients} recipients: peak RSS {peak_mb:.0f} MB (target ≤ 200 MB):"
                f" {'met' if peak_mb <= 200 else 'NOT met'}; {elapsed:.0f} s;"
                f" {args.recipients / elapsed:.0f} msg/s; {last}"
            )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), float(sys.argv[3]))
    else:
        main()
