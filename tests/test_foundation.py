"""The project model, settings, state store and transports, through real files and servers."""

from __future__ import annotations

import asyncio
import mailbox
import socket
import sqlite3
import subprocess
import sys
from email import message_from_bytes
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.config import DEFAULT_CONFIG, dns_server_address, load_config
from digest.errors import ConfigError, DigestError
from digest.project import init_project, open_project
from digest.store import MIGRATIONS, Store
from digest.transports import Envelope, MemoryTransport, OutboxTransport, SMTPTransport

runner = CliRunner()


def envelope(n: int = 1) -> Envelope:
    data = (
        f"From: a@example.org\r\nTo: b{n}@example.org\r\nSubject: test {n}\r\n"
        f"Message-ID: <m{n}@example.org>\r\n\r\nbody {n}\r\n"
    ).encode()
    return Envelope("a@example.org", f"b{n}@example.org", f"<m{n}@example.org>", data)


# -- project and settings -----------------------------------------------------------------------


def test_init_creates_a_project(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path / "news")])
    assert result.exit_code == 0, result.output
    root = tmp_path / "news"
    for name in ("digest.toml", "templates", "subscribers/example.csv", ".digest/digest.sqlite3"):
        assert (root / name).exists(), name
    assert sorted(p.name for p in (root / "templates").iterdir())
    # a second init refuses to overwrite, in one line, exit 2
    again = runner.invoke(app, ["init", str(root)])
    assert again.exit_code == 2
    assert "already exists" in again.output and "Traceback" not in again.output


@pytest.mark.parametrize(
    ("toml", "names"),
    [
        ("[newsletter]\nname = 3\n", "newsletter.name"),
        ("[selection]\nlimit = 0\n", "selection.limit"),
        ("[transport]\nbackend = 'pigeon'\n", "transport.backend"),
        ("[transport]\nbackend = 'smtp'\n", "transport.smtp_url"),
        ("[newsletter]\nbase_url = 'ftp://x'\n", "newsletter.base_url"),
        ("[newsletter]\nfrom = 'nobody'\n", "newsletter.from"),
        ("[sumary]\nwords = 9\n", "sumary.words"),
        ("[lists]\n'bad name' = 'X'\n", "lists.bad name"),
        ("[lists]\n'a:b' = 'X'\n", "lists.a:b"),
        ("[lists.news]\ncolour = 'red'\n", "lists.news.colour"),
        ("[lists.news]\ntitle = 3\n", "lists.news.title"),
        ('[lists]\nnews = "Two\\nlines"\n', "lists.news.title"),
        ("[lists]\nnews = 3\n", "lists.news"),
        ("[subscribers]\nsignups_per_client_hour = -1\n", "subscribers.signups_per_client_hour"),
        ("[subscribers]\ndns_server = 'localhost'\n", "subscribers.dns_server"),
        ("[subscribers]\ndns_server = '192.0.2.53:0'\n", "subscribers.dns_server"),
        ("[subscribers]\ndns_server = '[2001:db8::53]53'\n", "subscribers.dns_server"),
        ("[summary\n", "not valid TOML"),
    ],
)
def test_bad_settings_name_key_and_file(tmp_path: Path, toml: str, names: str) -> None:
    path = tmp_path / "digest.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert names in str(info.value) and str(path) in str(info.value)


def test_a_dns_server_is_an_address_with_an_optional_port() -> None:
    assert [
        dns_server_address(text)
        for text in ("192.0.2.53", "192.0.2.53:5353", "2001:db8::53", "[2001:db8::53]:5300")
    ] == [("192.0.2.53", 53), ("192.0.2.53", 5353), ("2001:db8::53", 53), ("2001:db8::53", 5300)]


def test_lists_are_read_in_order_with_their_titles(tmp_path: Path) -> None:
    path = tmp_path / "digest.toml"
    path.write_text(
        "[lists]\nnews = 'The weekly digest'\n"
        "[lists.local]\ndescription = 'When the council votes.'\n"
    )
    config = load_config(path, env={})
    assert [(i.name, i.title, i.description) for i in config.lists.values()] == [
        ("news", "The weekly digest", ""),
        ("local", "local", "When the council votes."),
    ]
    assert (config.signups_per_client_hour, config.confirmations_per_address_day) == (20, 3)
    # the example `digest init` writes, uncommented, is a working [lists]
    example = DEFAULT_CONFIG.split("# [lists]\n", 1)[1].split("\n\n", 1)[0]
    path.write_text("[lists]\n" + "\n".join(line[2:] for line in example.splitlines()))
    assert [i.title for i in load_config(path, env={}).lists.values()] == [
        "The weekly digest",
        "Local politics",
    ]


def test_bad_setting_through_the_cli_is_one_line_and_exit_2(tmp_path: Path) -> None:
    init_project(tmp_path)
    (tmp_path / "digest.toml").write_text("[selection]\nlimit = 'ten'\n")
    result = subprocess.run(
        [sys.executable, "-m", "digest", "--project", str(tmp_path), "build"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "selection.limit" in result.stderr and "digest.toml" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_project_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--project", str(tmp_path), "build"])
    assert result.exit_code == 2
    assert "digest.toml" in result.output


def test_environment_overrides(tmp_path: Path) -> None:
    init_project(tmp_path)
    config = load_config(
        tmp_path / "digest.toml",
        env={
            "DIGEST_SMTP_URL": "smtp://mailer@relay.example.org:2525",
            "DIGEST_BASE_URL": "https://news.example.org",
            "DIGEST_SMTP_PASSWORD": "hunter2",
            "DIGEST_SECRET": "s3cret",
        },
    )
    assert config.transport == "smtp"
    assert config.smtp_url == "smtp://mailer@relay.example.org:2525"
    assert config.base_url == "https://news.example.org"
    assert config.smtp_password == "hunter2" and config.secret == "s3cret"
    assert "hunter2" not in repr(config) and "s3cret" not in repr(config)


def test_project_from_environment_variable(tmp_path: Path, monkeypatch) -> None:
    init_project(tmp_path / "p")
    (tmp_path / "p" / "digest.toml").write_text("[selection]\nlimit = -1\n")
    monkeypatch.setenv("DIGEST_PROJECT", str(tmp_path / "p"))
    result = runner.invoke(app, ["build"])
    assert result.exit_code == 2 and "selection.limit" in result.output


def test_project_templates_override_the_defaults(tmp_path: Path) -> None:
    project = init_project(tmp_path)
    assert project.template_dirs[0] == tmp_path.resolve() / "templates"
    assert project.template_dirs[1].is_dir()


# -- state store --------------------------------------------------------------------------------


def test_store_is_wal_and_versioned(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.schema_version == len(MIGRATIONS)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    # reopening applies nothing twice
    assert Store(tmp_path / "s.db").schema_version == len(MIGRATIONS)


def test_a_store_from_before_source_kinds_publishes_no_origin(tmp_path: Path) -> None:

    db = sqlite3.connect(tmp_path / "s.db")
    db.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    db.execute(
        "INSERT INTO articles (id, url, body_hash, title, body, added)"
        " VALUES (1, 'https://news.example/a', 'h', 'T', 'B', '2026-11-20')"
    )
    feed = "https://feeds.example/rss?apikey=SECRET"
    for source in (feed, "https://news.example/a"):
        db.execute("INSERT INTO article_sources VALUES (1, ?)", (source,))
    db.commit()
    db.close()
    stored = Store(tmp_path / "s.db").article(1)
    assert stored.sources == ["https://news.example/a"]
    assert stored.origin == feed


# -- transports ---------------------------------------------------------------------------------


def test_outbox_is_a_maildir(tmp_path: Path) -> None:
    async def go() -> None:
        async with OutboxTransport(tmp_path / "outbox") as transport:
            results = await transport.send_messages([envelope(1), envelope(2)])
        assert all(r.ok for r in results)

    asyncio.run(go())
    box = mailbox.Maildir(tmp_path / "outbox", create=False)
    assert sorted(m["Subject"] for m in box) == ["test 1", "test 2"]


def test_memory_transport_keeps_messages() -> None:
    transport = MemoryTransport()
    asyncio.run(transport.send_messages([envelope(1)]))
    assert transport.outbox[0].recipient == "b1@example.org"


def test_smtp_transport_delivers_to_a_real_server(smtp_server) -> None:
    handler, port = smtp_server

    async def go() -> list[bool]:
        async with SMTPTransport(f"smtp://127.0.0.1:{port}?starttls=false") as transport:
            return [(await transport.send(envelope(n))).ok for n in range(3)]

    assert asyncio.run(go()) == [True, True, True]
    assert [m["Subject"] for m in handler.messages] == ["test 0", "test 1", "test 2"]


def test_smtp_url_never_carries_a_password() -> None:
    with pytest.raises(ConfigError, match="DIGEST_SMTP_PASSWORD"):
        SMTPTransport("smtp://user:pw@127.0.0.1:25")


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self) -> None:
            self.messages: list = []

        async def handle_DATA(self, server, session, env):  # noqa: N802 - aiosmtpd's name
            self.messages.append(message_from_bytes(env.content))
            return "250 OK"

    handler = Handler()
    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_python_dash_m_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "digest", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for name in ("init", "ingest", "build", "preview", "send", "subscribers", "run", "serve"):
        assert name in result.stdout


def test_open_project_on_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DigestError, match="no such project"):
        open_project(tmp_path / "nope")


def test_a_file_that_is_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "s.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DigestError, match="not a digest state store"):
        Store(tmp_path / "s.db")


@pytest.mark.parametrize(
    ("edit", "names"),
    [
        (('since = "7d"', 'since = "seven days"'), "selection.since"),
        (("timeout = 30", "timeout = nan"), "transport.timeout"),
        (('algorithm = "digest"', 'algorithm = "bogus"'), "summary.algorithm"),
    ],
)
def test_settings_checked_before_any_work(
    tmp_path: Path, edit: tuple[str, str], names: str
) -> None:
    init_project(tmp_path)
    config = tmp_path / "digest.toml"
    config.write_text(config.read_text().replace(*edit))
    examples = Path(__file__).resolve().parent.parent / "examples" / "articles"
    result = runner.invoke(app, ["--project", str(tmp_path), "build", "--articles", str(examples)])
    assert result.exit_code == 2
    assert names in result.output and str(config) in result.output
    assert Store(tmp_path / ".digest" / "digest.sqlite3").count_articles() == 0  # nothing done


@pytest.mark.parametrize(
    "args",
    [
        ["build", "--as-of", "0001-01-01"],
        ["build", "--since", "300000w"],
        ["build", "--out", "{file}"],
    ],
)
def test_out_of_range_and_misplaced_inputs_are_one_line(tmp_path: Path, args: list[str]) -> None:
    init_project(tmp_path / "p")
    (tmp_path / "afile").write_text("")
    args = [a.replace("{file}", str(tmp_path / "afile")) for a in args]
    result = runner.invoke(app, ["--project", str(tmp_path / "p"), *args])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_init_over_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    result = runner.invoke(app, ["init", str(tmp_path / "taken")])
    assert result.exit_code == 2 and "cannot create a project" in result.output


def test_markup_like_input_prints_as_is(tmp_path: Path) -> None:
    (tmp_path / "[").mkdir()
    (tmp_path / "[" / "x].txt").write_text("")  # the path reads ".../[/x].txt": a closing tag
    result = runner.invoke(app, ["summarize", str(tmp_path / "[" / "x].txt")])
    assert result.exit_code == 1 and "[/x].txt" in result.output
    assert "Traceback" not in result.output and "MarkupError" not in result.output
    # and through the one-line error of a usage mistake
    missing = runner.invoke(app, ["--project", str(tmp_path / "[" / "nope]"), "build"])
    assert missing.exit_code == 2 and "[/nope]" in missing.output


def test_base_url_with_line_breaks_is_refused(tmp_path: Path) -> None:
    init_project(tmp_path)
    env = {"DIGEST_BASE_URL": "https://n.example/x\r\nBcc: leak@evil.example"}
    with pytest.raises(ConfigError, match="DIGEST_BASE_URL"):
        load_config(tmp_path / "digest.toml", env=env)
