"""What a send must pass before it changes anything: no placeholder sender and no sample list
over SMTP, a list that exists, a relay that takes our login. A refused start leaves the issue as
it was. Real projects in tmp dirs, a real aiosmtpd relay on loopback, the CLI through its runner."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest
from send_support import (
    FaultyRelay,
    make_project,
    relay_with_login,
    running_relay,
    use_real_sender,
)
from typer.testing import CliRunner

from digest.cli import app
from digest.project import Project, data_path, init_project, open_project
from digest.send.preflight import reserved_domain

runner = CliRunner()
relay_on_loopback = contextlib.contextmanager(running_relay)


def digest(root: Path, *args: str, env: dict[str, str] | None = None):
    result = runner.invoke(app, ["--project", str(root), *args], env=env or {})
    assert "Traceback" not in result.output
    return result


def issue_status(root: Path) -> str:
    project = open_project(root)
    try:
        return project.store.latest_issue().status
    finally:
        project.close()


def queued(root: Path) -> int:
    project = open_project(root)
    try:
        return int(project.store.db.scalar("SELECT count(*) FROM sends"))
    finally:
        project.close()


@pytest.mark.parametrize(
    ("address", "reserved"),
    [
        ("The Political Digest <digest@example.org>", "example.org"),
        ("digest@news.example.com", "news.example.com"),
        ("d@EXAMPLE.NET", "example.net"),
        ("d@mail.test", "mail.test"),
        ("d@x.invalid", "x.invalid"),
        ("Digest <digest@politicaldigest.co.uk>", None),
        ("d@example.org.uk", None),
        ("d@myexample.org", None),
    ],
)
def test_reserved_domains(address: str, reserved: str | None) -> None:
    assert reserved_domain(address) == reserved


# -- item 4: placeholders never reach readers -----------------------------------------------------


def sample_project(tmp_path: Path) -> Project:
    """A project from `digest init` (the sample list untouched) with a draft issue."""
    from send_support import add_issue

    project = init_project(tmp_path / "news")
    add_issue(project, "2026-W10")
    return project


def test_an_smtp_send_from_the_placeholder_address_is_refused_naming_the_setting(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "p", 3)
    config = project.config.path
    for placeholder in ("digest@example.org", "digest@news.test", "d@nowhere.invalid"):
        config.write_text(
            config.read_text().replace(
                project.config.from_address, f"The Political Digest <{placeholder}>"
            )
        )
        project = open_project(project.root)
        with relay_on_loopback(FaultyRelay()) as relay:
            result = digest(project.root, "send", "--smtp-url", relay.url)
            assert relay.handler.received == []
        assert result.exit_code == 2
        assert "`newsletter.from`" in result.stderr and placeholder in result.stderr
        assert issue_status(project.root) == "draft" and queued(project.root) == 0
    # the outbox is a folder on disk: the placeholder is harmless there, and the demo uses it
    assert digest(project.root, "send").exit_code == 0


def test_the_sample_list_is_never_mailed_over_smtp_unless_edited_or_renamed(
    tmp_path: Path,
) -> None:
    project = sample_project(tmp_path)
    use_real_sender(project.config.path)
    sample = project.subscribers_dir / "example.csv"
    assert sample.read_bytes() == (data_path("subscribers") / "example.csv").read_bytes()
    with relay_on_loopback(FaultyRelay()) as relay:
        refused = digest(project.root, "send", "--smtp-url", relay.url)
        assert relay.handler.received == []
    assert refused.exit_code == 2
    assert str(sample) in refused.stderr and "delete-list example" in refused.stderr
    assert issue_status(project.root) == "draft" and queued(project.root) == 0
    # a dry run and the outbox are no mail to anyone: allowed
    assert digest(project.root, "send", "--dry-run").exit_code == 0
    # renamed, it is the editor's list now
    shutil.copy(sample, tmp_path / "saved.csv")
    sample.rename(project.subscribers_dir / "readers.csv")
    with relay_on_loopback(FaultyRelay()) as relay:
        sent = digest(project.root, "send", "--smtp-url", relay.url)
        assert sent.exit_code == 0, sent.output
        assert relay.handler.received


def test_an_edited_sample_list_is_the_editors(tmp_path: Path) -> None:
    project = sample_project(tmp_path)
    use_real_sender(project.config.path)
    sample = project.subscribers_dir / "example.csv"
    sample.write_text("email,name\nann@political-readers.net,Ann\n")
    with relay_on_loopback(FaultyRelay()) as relay:
        sent = digest(project.root, "send", "--smtp-url", relay.url)
        assert sent.exit_code == 0, sent.output
        assert [r.recipient for r in relay.handler.received] == ["ann@political-readers.net"]


def test_an_outbox_send_of_the_sample_project_stays_allowed(tmp_path: Path) -> None:
    project = sample_project(tmp_path)
    result = digest(project.root, "send")
    assert result.exit_code == 0, result.output
    assert issue_status(project.root) == "sent"


def test_an_editor_deletes_a_list(tmp_path: Path, store_backend: str) -> None:
    project = sample_project(tmp_path)
    assert digest(project.root, "subscribers", "count").exit_code == 0  # synced into the store
    deleted = digest(project.root, "subscribers", "delete-list", "example")
    assert deleted.exit_code == 0, deleted.output
    assert not (project.subscribers_dir / "example.csv").exists()
    assert "example.csv deleted" in deleted.stderr
    listed = digest(project.root, "subscribers", "list", "--json")
    assert listed.stdout.strip() == ""
    unknown = digest(project.root, "subscribers", "delete-list", "example")
    assert unknown.exit_code == 2 and "no such list" in unknown.stderr


def test_deleting_a_list_with_web_sign_ups_asks_for_yes(tmp_path: Path, store_backend: str) -> None:
    from digest.models import Subscriber

    project = sample_project(tmp_path)
    # someone who signed up on the web: in no file, so no file could bring them back
    project.store.subscribe(Subscriber("ann@political-readers.net", list="example"), origin="web")
    refused = digest(project.root, "subscribers", "delete-list", "example")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert (project.subscribers_dir / "example.csv").exists()
    deleted = digest(project.root, "subscribers", "delete-list", "example", "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert digest(project.root, "subscribers", "list", "--json").stdout.strip() == ""


# -- item 6: validate before changing state -------------------------------------------------------


def test_a_failed_login_leaves_the_issue_as_it_was_and_reopenable(tmp_path: Path) -> None:
    relay, authenticator, url = relay_with_login()
    project = make_project(tmp_path / "p", 3)
    try:
        assert digest(project.root, "issue", "approve", "1").exit_code == 0
        wrong = digest(
            project.root, "send", "--smtp-url", url, env={"DIGEST_SMTP_PASSWORD": "wrong-pw"}
        )
        assert wrong.exit_code == 2 and "login refused" in wrong.stderr
        assert "issue is as it was" in wrong.stderr
        assert issue_status(project.root) == "approved" and queued(project.root) == 0
        reopened = digest(project.root, "issue", "reopen", "1")
        assert reopened.exit_code == 0, reopened.output
        assert issue_status(project.root) == "draft"
        right = digest(
            project.root, "send", "--smtp-url", url, env={"DIGEST_SMTP_PASSWORD": "s3cret-pw"}
        )
        assert right.exit_code == 0, right.output
    finally:
        relay.stop()
    assert len(relay.handler.received) == 3


def test_an_unknown_list_is_refused_before_the_draft_is_approved(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 3)
    result = digest(project.root, "send", "--list", "nosuch")
    assert result.exit_code == 2 and "--list nosuch: no such list" in result.stderr
    assert issue_status(project.root) == "draft" and queued(project.root) == 0


def test_a_dry_run_with_an_unknown_list_is_a_usage_error(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", 3)
    result = digest(project.root, "send", "--dry-run", "--list", "nosuch")
    assert result.exit_code == 2 and "--list nosuch: no such list" in result.stderr
    assert issue_status(project.root) == "draft"


# -- lists readers choose: an issue goes to one of them ---------------------------------------


def test_a_reader_who_chose_one_list_gets_only_that_lists_issues(tmp_path: Path) -> None:
    """Issue 23: every send went to everyone, whatever list they had chosen on the web."""
    from digest.models import Subscriber

    project = make_project(tmp_path / "p", [])
    config = project.config.path
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "[schedule]\n", '[lists]\nnews = "Weekly news"\nevents = "Events"\n\n[schedule]\n'
        ),
        encoding="utf-8",
    )
    project = open_project(project.root)
    project.store.subscribe(Subscriber("ann@political-readers.net", list="news"), origin="web")
    project.store.subscribe(Subscriber("bob@political-readers.net", list="events"), origin="web")
    with relay_on_loopback(FaultyRelay()) as relay:
        everyone = digest(project.root, "send", "--smtp-url", relay.url)
        assert everyone.exit_code == 2 and "--list NAME" in everyone.stderr
        assert "news" in everyone.stderr and "events" in everyone.stderr
        assert issue_status(project.root) == "draft" and queued(project.root) == 0
        news = digest(project.root, "send", "--list", "news", "--smtp-url", relay.url)
        assert news.exit_code == 0, news.output
        assert [r.recipient for r in relay.handler.received] == ["ann@political-readers.net"]


def test_the_postal_address_is_in_every_issue_and_an_smtp_send_warns_without_it(
    tmp_path: Path,
) -> None:
    from send_support import POSTAL_ADDRESS

    project = make_project(tmp_path / "p", 1)
    with relay_on_loopback(FaultyRelay()) as relay:
        sent = digest(project.root, "send", "--smtp-url", relay.url)
        assert sent.exit_code == 0, sent.output
        (received,) = relay.handler.received
    assert POSTAL_ADDRESS.encode() in received.data  # in the text part, as written
    assert "postal_address" not in sent.stderr

    bare = make_project(tmp_path / "bare", 1)
    config = bare.config.path
    config.write_text(config.read_text().replace(POSTAL_ADDRESS, ""))
    with relay_on_loopback(FaultyRelay()) as relay:
        warned = digest(bare.root, "send", "--smtp-url", relay.url)
    assert warned.exit_code == 0, warned.output
    assert "warning:" in warned.stderr and "`newsletter.postal_address` is empty" in warned.stderr
    assert digest(bare.root, "report").exit_code == 0
