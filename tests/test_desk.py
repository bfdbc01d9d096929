"""The editor's desk from the terminal: `digest issue …`, the lifecycle, `digest report`.

Every command goes through the CLI runner against a real project folder (the sample articles,
the real templates, the outbox or an aiosmtpd relay on loopback)."""

from __future__ import annotations

import html as html_lib
import json
import mailbox
import re
import sqlite3
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from send_support import FaultyRelay, running_relay, use_real_sender
from typer.testing import CliRunner

from digest.cli import app
from digest.message import MessageFactory
from digest.models import Subscriber
from digest.project import init_project, open_project
from digest.render import web_version
from digest.store import MIGRATIONS
from digest.tokens import load_secret

runner = CliRunner()
AS_OF = "2026-11-20"


def digest(root: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--project", str(root), *args], input=stdin, env={})
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def built(tmp_path: Path, *, limit: int = 3) -> Path:
    """A project of the sample articles with one draft of `limit` stories."""
    root = tmp_path / "news"
    init_project(root, with_examples=True).close()
    (root / "subscribers" / "example.csv").write_text(
        "email,name\nada@example.org,Ada\nbob@example.org,Bob\n", encoding="utf-8"
    )
    code, _, err = digest(root, "build", "--as-of", AS_OF, "--limit", str(limit))
    assert code == 0, err
    return root


def show(root: Path, issue: int = 1) -> dict:
    code, out, err = digest(root, "issue", "show", str(issue), "--json")
    assert code == 0, err
    return json.loads(out)


def mailed(root: Path) -> list[EmailMessage]:
    box = mailbox.Maildir(root / "outbox", create=False)
    return [message_from_bytes(m.as_bytes(), policy=policy.default) for m in box]  # type: ignore[misc]


def parts(message: EmailMessage) -> tuple[str, str]:
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    return html.get_content(), text.get_content()


def test_an_editor_shapes_a_draft_and_the_mail_carries_exactly_those_edits(
    tmp_path: Path,
) -> None:
    root = built(tmp_path)
    before = show(root)
    assert before["status"] == "draft" and len(before["stories"]) == 3
    assert [s["position"] for s in before["stories"]] == [1, 2, 3]
    assert before["runners_up"], "the stories the selection left out are offered"
    first, second, third = (s["article_id"] for s in before["stories"])
    runner_up = before["runners_up"][0]

    assert digest(root, "issue", "drop", "1", "2")[0] == 0
    assert digest(root, "issue", "move", "1", "2", "1")[0] == 0  # third before first
    code, out, err = digest(root, "issue", "add", "1", str(runner_up["article_id"]), "--at", "2")
    assert code == 0, err
    code, out, _ = digest(root, "issue", "show", "1", "--sentences", "3", "--json")
    sentences = json.loads(out)
    assert code == 0 and len(sentences) >= 3 and all("score" in s for s in sentences)
    assert any(s["chosen"] for s in sentences)
    code, _, err = digest(root, "issue", "edit", "1", "3", "--sentences", "2,1")
    assert code == 0, err
    assert digest(root, "issue", "edit", "1", "1", "--title", "An editor's title")[0] == 0
    summary = tmp_path / "summary.txt"
    summary.write_text("The editor's own words.\n\nA second paragraph.\n", encoding="utf-8")
    assert digest(root, "issue", "edit", "1", "2", "--summary-file", str(summary))[0] == 0
    assert digest(root, "issue", "subject", "1", "Week 47: what changed")[0] == 0
    intro = tmp_path / "intro.md"
    intro.write_text(
        "Good morning, **readers**. <script>alert(1)</script>\n\n- [Our site](https://example.org/)\n",
        encoding="utf-8",
    )
    assert digest(root, "issue", "intro", "1", "--file", str(intro))[0] == 0

    after = show(root)
    assert [s["article_id"] for s in after["stories"]] == [third, runner_up["article_id"], first]
    assert second in [r["article_id"] for r in after["runners_up"]]  # dropped: a runner-up now
    assert runner_up["article_id"] not in [r["article_id"] for r in after["runners_up"]]
    assert after["stories"][0]["title"] == "An editor's title"
    assert after["stories"][1]["summary"] == ["The editor's own words.", "A second paragraph."]
    assert after["stories"][2]["summary"] == [sentences[0]["text"], sentences[1]["text"]]
    assert after["subject"] == "Week 47: what changed"

    code, out, err = digest(root, "send", "1", "--json")  # a draft: approved by the send
    assert code == 0, err
    assert show(root)["status"] == "sent"
    messages = mailed(root)
    assert len(messages) == 2
    for message in messages:
        assert message["Subject"] == "Week 47: what changed"
        html, text = parts(message)
        words = html_lib.unescape(html)
        titles = [s["title"] for s in after["stories"]]
        # the last mention of each title is its story (the preheader names them first)
        assert words.rindex(titles[0]) < words.rindex(titles[1]) < words.rindex(titles[2])
        assert words.index("The editor's own words.") < words.rindex(titles[2])
        assert "<strong>readers</strong>" in html and "<script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert '<a href="https://example.org/"' in html
        assert "Good morning, readers." in text and "- Our site <https://example.org/>" in text
        assert "A second paragraph." in text and sentences[1]["text"][:40] in text
        assert before["stories"][1]["title"] not in html  # the dropped story is gone

    # the mail is the frozen parts with that reader's values; the preview the same parts
    project = open_project(root)
    issue = project.store.issue(1)
    factory = MessageFactory(issue, project.config, load_secret(project.state_dir, None))
    for message in messages:
        address = str(message["To"]).split("<")[1].rstrip(">")
        name = "Ada" if address.startswith("ada") else "Bob"
        reader = Subscriber(email=address, name=name, list="example")
        assert parts(message)[0] == factory.html(reader)
    assert "Good morning" in web_version(issue)
    project.close()


def test_mistakes_are_one_line_exit_2_and_change_nothing(tmp_path: Path) -> None:
    root = built(tmp_path)
    before = show(root)
    mistakes = [
        (("issue", "drop", "1", "4"), "position 4: issue 1 has stories 1 to 3"),
        (("issue", "drop", "1", "0"), "position 0"),
        (("issue", "drop", "1", "1", "2", "3"), "at least one story"),
        (("issue", "move", "1", "1", "9"), "to 9"),
        (("issue", "add", "1", "9999"), "article 9999: not in the store"),
        (("issue", "add", "1", "https://nowhere.example/x"), "no stored article has this URL"),
        (("issue", "add", "1", "x"), "not an article id"),
        (("issue", "add", "1", str(before["stories"][0]["article_id"])), "already story 1"),
        (("issue", "add", "1", str(before["runners_up"][0]["article_id"]), "--at", "5"), "--at 5"),
        (("issue", "edit", "1", "1", "--sentences", "1,999"), "--sentences 999"),
        (("issue", "edit", "1", "1", "--sentences", "a,b"), "numbers separated by commas"),
        (("issue", "edit", "1", "1"), "nothing to change"),
        (("issue", "edit", "1", "1", "--title", "  "), "needs a title"),
        (("issue", "edit", "1", "4", "--title", "x"), "position 4"),
        (("issue", "show", "7"), "issue 7: no such issue"),
        (("issue", "intro", "1", "--file", str(tmp_path / "missing.md")), "cannot read"),
        (("issue", "reopen", "1"), None),  # a draft already: a no-op
    ]
    for args, message in mistakes:
        code, _, err = digest(root, *args)
        if message is None:
            assert code == 0, err
            continue
        assert code == 2, (args, err)
        assert message in err and len(err.strip().splitlines()) == 1, (args, err)
    assert show(root) == before

    assert digest(root, "issue", "approve", "1")[0] == 0
    frozen = show(root)
    assert frozen["status"] == "approved"
    for args in (
        ("issue", "drop", "1", "1"),
        ("issue", "move", "1", "1", "2"),
        ("issue", "edit", "1", "1", "--title", "x"),
        ("issue", "subject", "1", "x"),
        ("issue", "add", "1", str(before["runners_up"][0]["article_id"])),
    ):
        code, _, err = digest(root, *args)
        assert code == 2 and "issue 1 is approved: it can no longer be edited" in err, err
        assert len(err.strip().splitlines()) == 1
    assert show(root) == frozen

    assert digest(root, "send", "1")[0] == 0
    for args in (("issue", "reopen", "1"), ("issue", "discard", "1")):
        code, _, err = digest(root, *args)
        assert code == 2 and "issue 1 is sent: its send has begun, it stays" in err
    code, _, err = digest(root, "issue", "title", "1")
    assert code == 2 and "Traceback" not in err


def test_a_template_changed_after_approval_changes_nothing_until_reopened(
    tmp_path: Path,
) -> None:
    root = built(tmp_path)
    template = root / "templates" / "digest.html"
    original = template.read_text(encoding="utf-8")

    def mark(word: str) -> None:
        changed = original.replace("a weekly selection", f"{word} a weekly selection")
        assert changed != original
        template.write_text(changed, encoding="utf-8")

    assert digest(root, "issue", "approve", "1")[0] == 0
    mark("CHANGED-AFTER-APPROVAL")
    assert digest(root, "send", "1")[0] == 0
    first = [parts(m) for m in mailed(root)]
    assert len(first) == 2
    assert not any("CHANGED-AFTER-APPROVAL" in html or "CHANGED" in text for html, text in first)

    assert digest(root, "build", "--as-of", AS_OF, "--limit", "2", "--include-sent")[0] == 0
    assert digest(root, "issue", "approve", "2")[0] == 0
    mark("CHANGED-THEN-REOPENED")
    assert digest(root, "issue", "reopen", "2")[0] == 0
    assert digest(root, "send", "2")[0] == 0  # approves the draft with the template as it is
    second = [parts(m) for m in mailed(root) if "CHANGED-THEN-REOPENED" in parts(m)[0]]
    assert len(second) == 2


def test_discard_removes_a_draft_and_latest_moves_back(tmp_path: Path) -> None:
    root = built(tmp_path)
    assert digest(root, "build", "--as-of", AS_OF, "--limit", "2")[0] == 0
    code, out, _ = digest(root, "issue", "list", "--json")
    assert [row["id"] for row in json.loads(out)] == [2, 1]
    code, _, err = digest(root, "issue", "discard", "2")
    assert code == 0 and "discarded" in err
    assert show(root, 1)["id"] == 1
    code, out, _ = digest(root, "issue", "show", "--json")
    assert json.loads(out)["id"] == 1  # the latest is issue 1 again
    code, _, err = digest(root, "issue", "show", "2")
    assert code == 2 and "no such issue" in err


def test_subject_defaults_to_the_name_and_lead_title_and_can_go_back(tmp_path: Path) -> None:
    root = built(tmp_path)
    stories = show(root)["stories"]
    assert show(root)["subject"] == f"The Political Digest: {stories[0]['title']}"
    assert digest(root, "issue", "move", "1", "2", "1")[0] == 0
    assert show(root)["subject"] == f"The Political Digest: {stories[1]['title']}"
    assert digest(root, "issue", "subject", "1", "Line one\r\nBcc: x@example.org")[0] == 0
    assert show(root)["subject"] == "Line one Bcc: x@example.org"  # one line, no header
    assert digest(root, "issue", "subject", "1", "")[0] == 0
    assert show(root)["subject"] == f"The Political Digest: {stories[1]['title']}"


def test_intro_from_stdin_and_removed_by_an_empty_file(tmp_path: Path) -> None:
    root = built(tmp_path)
    code, _, err = digest(root, "issue", "intro", "1", "--file", "-", stdin="Hello *all*\n")
    assert code == 0, err
    assert show(root)["intro"] == "Hello *all*"
    empty = tmp_path / "empty.md"
    empty.write_text("", encoding="utf-8")
    assert digest(root, "issue", "intro", "1", "--file", str(empty))[0] == 0
    assert show(root)["intro"] == ""


def test_add_by_url_summarises_the_article(tmp_path: Path) -> None:
    root = built(tmp_path, limit=2)
    project = open_project(root)
    runner_up = show(root)["runners_up"][0]
    url = project.store.article(runner_up["article_id"]).source_url
    project.close()
    assert url
    code, _, err = digest(root, "issue", "add", "1", url)
    assert code == 0, err
    added = show(root)["stories"][-1]
    assert added["article_id"] == runner_up["article_id"] and added["summary"]


def test_run_holds_a_draft_until_an_editor_approves_it(tmp_path: Path) -> None:
    root = built(tmp_path)
    # a new project's digest.toml has [schedule] hold = false: switch it on there
    config = root / "digest.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("hold = false", "hold = true"),
        encoding="utf-8",
    )
    as_of = "2026-11-20T18:00:00+00:00"
    code, out, err = digest(root, "run", "--as-of", as_of, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["outcome"] == "held"
    issue = summary["issue"]
    assert show(root, issue)["status"] == "draft"
    assert json.loads(digest(root, "run", "--as-of", as_of, "--json")[1])["outcome"] == "held"
    assert not (root / "outbox").exists() or not mailed(root)
    assert digest(root, "issue", "approve", str(issue))[0] == 0
    assert json.loads(digest(root, "run", "--as-of", as_of, "--json")[1])["outcome"] == "sent"
    assert len(mailed(root)) == 2


def test_run_without_hold_approves_and_sends_and_hold_flag_sends_nothing(tmp_path: Path) -> None:
    root = built(tmp_path)
    as_of = "2026-11-20T18:00:00+00:00"
    code, out, _ = digest(root, "run", "--as-of", as_of, "--hold", "--json")
    assert json.loads(out)["outcome"] == "held"
    issue = json.loads(out)["issue"]
    assert digest(root, "issue", "approve", str(issue))[0] == 0
    code, out, _ = digest(root, "run", "--as-of", as_of, "--hold", "--json")
    assert json.loads(out)["outcome"] == "held"  # --hold: this run sends nothing
    assert not (root / "outbox").exists() or not mailed(root)

    other = tmp_path / "other"
    other.mkdir()
    root2 = built(other)
    code, out, _ = digest(root2, "run", "--as-of", as_of, "--json")
    assert json.loads(out)["outcome"] == "sent"
    assert show(root2, json.loads(out)["issue"])["status"] == "sent"


def test_report_names_every_failed_and_deferred_address(tmp_path: Path) -> None:
    root = built(tmp_path)
    use_real_sender(root / "digest.toml")
    (root / "subscribers" / "example.csv").write_text(
        "email,name\nok@example.org,Ok\ngone@example.org,Gone\nbusy@example.org,Busy\n",
        encoding="utf-8",
    )
    handler = FaultyRelay(perm_rcpt={"gone@example.org"}, temp_rcpt={"busy@example.org": 99})
    for relay in running_relay(handler):
        code, _, err = digest(
            root, "send", "1", "--smtp-url", relay.url, "--max-attempts", "2",
            "--retry-base", "0.01",
        )  # fmt: skip
        assert code == 1, err
    project = open_project(root)
    project.store.suppress("ok@example.org", "unsubscribed")
    project.close()
    out_csv = tmp_path / "report.csv"
    code, out, err = digest(root, "report", "1", "--json", "--csv", str(out_csv))
    assert code == 0, err
    report = json.loads(out)
    assert report["transport"] == "smtp" and "127.0.0.1" in report["relay"]
    assert report["started"] and report["finished"] is None  # one address still deferred
    counts = report["counts"]
    assert (counts["sent"], counts["failed"], counts["deferred"]) == (1, 1, 1)
    assert counts["unsubscribed_since"] == 1 and counts["suppressed_bounced"] == 0
    problems = {p["email"]: p for p in report["problems"]}
    assert set(problems) == {"gone@example.org", "busy@example.org"}
    assert problems["gone@example.org"]["status"] == "failed"
    assert "550 5.1.1" in problems["gone@example.org"]["last_reply"]
    assert problems["busy@example.org"]["status"] == "deferred"
    assert problems["busy@example.org"]["attempts"] == 2
    assert "451 4.2.0" in problems["busy@example.org"]["last_reply"]
    rows = out_csv.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "email,list,status,attempts,last_reply,updated" and len(rows) == 3

    code, out, _ = digest(root, "report", "1")
    assert code == 0
    assert "transport: smtp smtp://127.0.0.1" in out
    assert "failed\tgone@example.org\t1 attempt\t550 5.1.1" in out


def test_an_old_store_keeps_built_issues_frozen_and_held_ones_as_drafts(tmp_path: Path) -> None:
    root = built(tmp_path)
    assert digest(root, "build", "--as-of", AS_OF, "--limit", "2")[0] == 0
    db = sqlite3.connect(root / ".digest" / "digest.sqlite3")
    # as a store of the previous schema had them
    db.execute("UPDATE issues SET status = 'built' WHERE id = 1")
    db.execute("UPDATE issues SET status = 'held' WHERE id = 2")
    for column in ("intro", "subject_custom", "runners_up", "approved_at", "send_started"):
        db.execute(f"ALTER TABLE issues DROP COLUMN {column}")
    # and without what the migrations after the desk's added (the send workers', subscribers,
    # bounces, the web side's rate limits, the Message-ID key, the bounce memory, the signing keys,
    # the summary cache, the editor's send time, the story clicks)
    db.executescript(
        "DROP TABLE bounces; ALTER TABLE suppressions DROP COLUMN detail;"
        " ALTER TABLE suppressions DROP COLUMN updated; DROP TABLE rate_events;"
        " DROP TABLE subscribers; DROP TABLE subscriber_files;"
        " DROP TABLE send_workers; DROP TABLE send_slots; DROP INDEX sends_worker;"
        " ALTER TABLE sends DROP COLUMN worker; ALTER TABLE sends DROP COLUMN lease_until;"
        " ALTER TABLE issues DROP COLUMN stopped;"
        " ALTER TABLE issues DROP COLUMN message_id_key;"
        " DROP TABLE bounce_messages; DROP TABLE signing_keys; DROP TABLE summaries;"
        " ALTER TABLE issues DROP COLUMN send_at; DROP TABLE story_clicks;"
    )
    desk = next(n for n, script in enumerate(MIGRATIONS) if "runners_up" in script)
    db.execute(f"PRAGMA user_version = {desk}")
    db.commit()
    db.close()
    assert show(root, 1)["status"] == "approved"
    assert show(root, 2)["status"] == "draft"


@pytest.mark.parametrize("command", ["approve", "reopen", "discard", "show", "drop"])
def test_unknown_issue_is_one_line(tmp_path: Path, command: str) -> None:
    root = built(tmp_path)
    args = ["issue", command, "42"] + (["1"] if command == "drop" else [])
    code, _, err = digest(root, *args)
    assert code == 2 and "issue 42: no such issue" in err


def test_an_intro_the_project_template_cannot_show_is_warned_about(tmp_path: Path) -> None:
    root = built(tmp_path)
    template = root / "templates" / "digest.html"
    text = template.read_text(encoding="utf-8")
    start, end = (
        text.index("{% if intro %}"),
        text.index("{% endif %}", text.index("{% if intro %}")),
    )
    template.write_text(text[:start] + text[end + len("{% endif %}") :], encoding="utf-8")
    code, _, err = digest(root, "issue", "intro", "1", "--file", "-", stdin="Hello\n")
    assert code == 0 and "warning: the intro is not shown: digest.html has no" in err


def test_an_intro_cannot_run_script_link_to_javascript_or_reach_personal_values() -> None:
    from digest.render import PLACEHOLDER_RE, render_intro

    intro = render_intro(
        "Hi <img src=x onerror=alert(1)> [click](javascript:alert(1)) [ok](https://a.example/)"
        " [mail](mailto:ed@example.org) @@digest:unsubscribe_url@@\n\n1. one\n2. two"
    )
    assert intro is not None
    assert "<img" not in intro.html and "&lt;img src=x onerror=alert(1)&gt;" in intro.html
    assert 'href="javascript' not in intro.html and "[click](javascript:alert(1))" in intro.html
    assert '<a href="https://a.example/">ok</a>' in intro.html
    assert '<a href="mailto:ed@example.org">mail</a>' in intro.html
    assert not PLACEHOLDER_RE.search(intro.html) and not PLACEHOLDER_RE.search(intro.text)
    # the text part: wrapped at 72, a link's address after its words, the list numbered
    assert intro.text == (
        "Hi <img src=x onerror=alert(1)> [click](javascript:alert(1)) ok\n"
        "<https://a.example/> mail <mailto:ed@example.org>\n"
        "@@\u200ddigest:unsubscribe_url@@\n\n1. one\n2. two"
    )
    assert render_intro("  \n ") is None


def test_the_greeting_reads_as_a_sentence_in_the_mail(tmp_path: Path) -> None:
    root = built(tmp_path)
    assert digest(root, "send", "1")[0] == 0
    html = parts(mailed(root)[0])[0]
    words = " ".join(re.sub(r"<!--.*?-->|<[^>]+>", "", html, flags=re.S).split())
    assert "political stories. Read this issue in your browser." in words
