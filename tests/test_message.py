"""The message each subscriber gets: structure, headers, personalisation with the right escaping,
deterministic Message-IDs, and no header injection from data."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import mailbox
import re
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.config import Config, load_config
from digest.errors import ConfigError
from digest.greeting import greeting_name
from digest.message import BadRecipient, MessageFactory, message_id
from digest.models import Issue, IssueEntry, Subscriber
from digest.project import data_path
from digest.render import render_issue, web_version
from digest.store import Store
from digest.tokens import bounce_token_issue, make_bounce_token, make_token, read_token
from digest.transports import OutboxTransport

SECRET = b"test-secret-not-for-production"
EXPECTED_HEADERS = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "reply-to",
    "mime-version",
    "content-type",
    "auto-submitted",
    "precedence",
}


def make_config(tmp_path: Path, **overrides: object) -> Config:
    settings_ = {
        "name": "The Political Digest",
        "from_address": "The Political Digest <digest@news.example.org>",
        "reply_to": "Editors <editors@news.example.org>",
        "base_url": "https://news.example.org/",
    } | overrides
    return Config(path=tmp_path / "digest.toml", **settings_)  # type: ignore[arg-type]


def entries() -> list[IssueEntry]:
    return [
        IssueEntry(
            article_id=n,
            title=f"Story {n}: vote on the budget <b>today</b>",
            source_url=f"https://www.example.com/politics/{n}",
            source_name="example.com",
            published=datetime(2026, 11, 20, tzinfo=UTC),
            authors=["Ann Author"],
            summary=["The chamber voted 300 to 250.", "A second reading follows in May."],
            political_score=0.9,
        )
        for n in (1, 2, 3)
    ]


def stored_issue(
    tmp_path: Path, config: Config, subject: str = "Digest: the budget", key: str = "2026-W48"
) -> Issue:
    items = entries()
    parts = render_issue(
        items, config=config, template_dirs=[data_path("templates")], subject=subject
    )
    store = Store(tmp_path / f"state-{len(list(tmp_path.iterdir()))}.sqlite3")
    for entry in items:
        store.db.execute(
            "INSERT INTO articles (id, body_hash, title, body, added) VALUES (?, ?, ?, '', '')",
            (entry.article_id, f"h{entry.article_id}", entry.title),
        )
    issue = store.create_issue(
        key=key, subject=subject, entries=items, html=parts.html, text=parts.text
    )
    store.close()
    return issue


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def factory(tmp_path: Path, config: Config) -> MessageFactory:
    return MessageFactory(stored_issue(tmp_path, config), config, SECRET)


def header_block(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def header_names(data: bytes) -> list[str]:
    """The names of the top-level headers, from the raw bytes (continuations start with space)."""
    names = []
    for line in header_block(data).split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        names.append(line.split(b":", 1)[0].decode().lower())
    return names


def test_structure_and_headers(factory: MessageFactory) -> None:
    subscriber = Subscriber(email="ann@example.net", name="Ann Lee", list="weekly")
    envelope = factory.envelope(subscriber)
    message = factory.message(subscriber)

    assert envelope.sender == "digest@news.example.org"
    assert envelope.recipient == "ann@example.net"
    assert sorted(header_names(envelope.data)) == sorted(EXPECTED_HEADERS)
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in message.iter_parts())
    assert message["From"] == "The Political Digest <digest@news.example.org>"
    assert message["To"] == "Ann Lee <ann@example.net>"
    assert message["Reply-To"] == "Editors <editors@news.example.org>"
    assert message["Subject"] == "Digest: the budget"
    assert message["Message-ID"] == envelope.message_id
    assert message["List-Id"] == "The Political Digest <weekly.news.example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Date"].datetime.tzinfo is not None
    # CRLF everywhere, no line an SMTP server would refuse
    assert b"\n" not in envelope.data.replace(b"\r\n", b"")
    assert max(len(line) for line in envelope.data.split(b"\r\n")) <= 998


def test_list_unsubscribe_carries_a_verifiable_token(factory: MessageFactory) -> None:
    subscriber = Subscriber(email="Ann@Example.net", name="Ann", list="weekly")
    message = factory.message(subscriber)
    links = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    # without a bounce address there is no mailbox anyone reads: no mailto: half
    assert len(links) == 1
    https = links[0]
    assert https.startswith("https://news.example.org/unsubscribe?token=")
    token = parse_qs(urlsplit(https).query)["token"][0]
    assert read_token(SECRET, token) == ("ann@example.net", "weekly")
    # the footer link in both parts is the same signed URL
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert f'href="{https}"' in html
    assert f"Unsubscribe: {https}" in text
    assert "https://news.example.org/issues/" in html and "@@digest:" not in html + text


def test_personal_values_are_escaped_for_each_part(factory: MessageFactory) -> None:
    name = '"Bob"&<b>Co Smith'  # the greeting takes the first name, '"Bob"&<b>Co'
    message = factory.message(Subscriber(email="bob@example.net", name=name))
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Hello &quot;Bob&quot;&amp;&lt;b&gt;Co," in html
    assert "<b>Co" not in html
    assert 'Hello "Bob"&<b>Co,' in text
    assert parseaddr(str(message["To"])) == (name, "bob@example.net")


def test_greeting_without_a_name(factory: MessageFactory) -> None:
    message = factory.message(Subscriber(email="anon@example.net"))
    assert message["To"] == "anon@example.net"
    assert "Hello," in message.get_body(("plain",)).get_content()
    assert "Hello," in message.get_body(("html",)).get_content()


def test_non_ascii_names_and_subjects_are_encoded(tmp_path: Path) -> None:
    config = make_config(tmp_path, name="Le Récapitulatif", from_address="Récap <r@example.fr>")
    issue = stored_issue(tmp_path, config, subject="Élysée : la réforme des retraites adoptée")
    factory = MessageFactory(issue, config, SECRET)
    envelope = factory.envelope(Subscriber(email="zoe@example.fr", name="Zoë Šťastná"))
    assert envelope.data.isascii()  # 7-bit: RFC 2047 headers, quoted-printable bodies
    message = factory.message(Subscriber(email="zoe@example.fr", name="Zoë Šťastná"))
    assert message["Subject"] == "Élysée : la réforme des retraites adoptée"
    assert message["To"].addresses[0].display_name == "Zoë Šťastná"
    assert message["From"].addresses[0].display_name == "Récap"
    assert "Hello Zoë," in message.get_body(("html",)).get_content()


def test_message_id_is_deterministic_per_issue_and_subscriber(
    tmp_path: Path, config: Config
) -> None:
    issue = stored_issue(tmp_path, config)
    ann = Subscriber(email="ann@example.net", name="Ann")
    first = MessageFactory(issue, config, SECRET).envelope(ann)
    again = MessageFactory(issue, config, SECRET).envelope(Subscriber(email="ANN@example.net"))
    other = MessageFactory(issue, config, SECRET).envelope(Subscriber(email="bob@example.net"))
    assert first.message_id == again.message_id
    assert first.message_id != other.message_id
    assert re.fullmatch(r"<[\w.]+@news\.example\.org>", first.message_id)
    assert "ann" not in first.message_id  # the address is not readable from it
    next_week = stored_issue(tmp_path, config, key="2026-W49")
    assert MessageFactory(next_week, config, SECRET).message_id(ann) != first.message_id
    # a resend after the signing secret was rotated is still recognisable as the same message
    rotated = MessageFactory(issue, config, b"a-new-secret-after-rotation").envelope(ann)
    assert rotated.message_id == first.message_id


def test_a_reader_cannot_compute_another_readers_message_id(tmp_path: Path, config: Config) -> None:
    """What a copy shows (its Message-ID, the issue's id, and a Date to the second) plus the
    issue's key and creation time to the microsecond is not enough: each issue has a random
    key of its own. An issue stored before that keeps the Message-IDs it had."""
    issue = stored_issue(tmp_path, config)
    assert len(issue.message_id_key) == 32
    bob = "bob@example.net"
    known_inputs = replace(issue, message_id_key="")
    assert message_id(known_inputs, bob, "news.example.org") != message_id(
        issue, bob, "news.example.org"
    )
    other = stored_issue(tmp_path, config, key="2026-W49")
    assert other.message_id_key != issue.message_id_key
    # an older issue (no key stored): its Message-IDs as they always were
    key = f"{issue.id}\0{issue.key}\0{issue.created.isoformat()}".encode()
    text = f"message-id\0{issue.id}\0{issue.key}\0{bob}".encode()
    mac = hmac.new(key, text, hashlib.sha256).hexdigest()[:32]
    assert message_id(known_inputs, bob, "x.org") == f"<digest.{issue.id}.{mac}@x.org>"


INJECTIONS = [
    "Eve\r\nBcc: victim@example.org",
    "Eve\nBcc: victim@example.org",
    "Eve\rBcc: victim@example.org",
    "Eve\r\n\r\n<html>body</html>",
    "Eve\x00\x0bBcc: x@example.org",
    "Eve\u2028Bcc: x@example.org",
]


@pytest.mark.parametrize("name", INJECTIONS)
def test_no_header_injection_through_the_name(factory: MessageFactory, name: str) -> None:
    envelope = factory.envelope(Subscriber(email="eve@example.net", name=name))
    assert sorted(header_names(envelope.data)) == sorted(EXPECTED_HEADERS)
    message = message_from_bytes(envelope.data, policy=policy.default)
    assert message["Bcc"] is None
    assert message["To"].addresses[0].addr_spec == "eve@example.net"
    assert len(message["To"].addresses) == 1


def test_no_header_injection_through_subject_or_settings(tmp_path: Path) -> None:
    config = make_config(tmp_path, name="Digest\r\nBcc: a@example.org")
    issue = stored_issue(tmp_path, config, subject="Vote\r\nBcc: b@example.org\r\n\r\nhi")
    envelope = MessageFactory(issue, config, SECRET).envelope(Subscriber(email="c@example.net"))
    assert sorted(header_names(envelope.data)) == sorted(EXPECTED_HEADERS)
    message = message_from_bytes(envelope.data, policy=policy.default)
    assert message["Subject"] == "Vote Bcc: b@example.org hi"


@pytest.mark.parametrize(
    "email",
    [
        "eve@example.net\r\nBcc: victim@example.org",
        "eve@example.net, victim@example.org",
        "Eve <eve@example.net>",
        "not-an-address",
        "eve@exa mple.net",
    ],
)
def test_a_bad_address_is_refused(factory: MessageFactory, email: str) -> None:
    with pytest.raises(BadRecipient):
        factory.envelope(Subscriber(email=email))


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=60), list_name=st.text(max_size=20))
def test_any_name_gives_exactly_the_expected_headers(name: str, list_name: str) -> None:
    envelope = FACTORY_FOR_PROPERTY.envelope(
        Subscriber(email="p@example.net", name=name, list=list_name)
    )
    assert sorted(header_names(envelope.data)) == sorted(EXPECTED_HEADERS)
    message = message_from_bytes(envelope.data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert [a.addr_spec for a in message["To"].addresses] == ["p@example.net"]


def _factory_for_property() -> MessageFactory:
    config = Config(
        path=Path("/nonexistent/digest.toml"),
        from_address="D <d@example.org>",
        reply_to="r@example.org",
        base_url="https://example.org",
    )
    items = entries()
    parts = render_issue(items, config=config, template_dirs=[data_path("templates")], subject="S")
    issue = Issue(
        id=7,
        key="k",
        subject="S",
        created=datetime.now(UTC),
        entries=items,
        html=parts.html,
        text=parts.text,
    )
    return MessageFactory(issue, config, SECRET)


FACTORY_FOR_PROPERTY = _factory_for_property()


def test_messages_land_in_a_real_maildir(tmp_path: Path, factory: MessageFactory) -> None:
    subscribers = [Subscriber(email=f"r{n}@example.net", name=f"Reader {n}") for n in range(5)]

    async def deliver() -> None:
        async with OutboxTransport(tmp_path / "outbox") as transport:
            deliveries = await transport.send_messages([factory.envelope(s) for s in subscribers])
            assert all(d.ok for d in deliveries)

    asyncio.run(deliver())
    received = {
        str(m["To"]): m for m in mailbox.Maildir(tmp_path / "outbox", factory=None, create=False)
    }
    assert set(received) == {f"Reader {n} <r{n}@example.net>" for n in range(5)}
    for n in range(5):
        body = message_from_bytes(
            received[f"Reader {n} <r{n}@example.net>"].as_bytes(), policy=policy.default
        )
        # "Reader 3" is no person's name: the greeting uses none (issue 23)
        assert "Hello," in body.get_body(("plain",)).get_content()


@settings(max_examples=150, deadline=None)
@given(name=st.text(max_size=200))
def test_bodies_decode_to_the_personalised_parts(name: str) -> None:
    """The per-recipient quoted-printable splicing decodes to exactly the substituted template,
    and no encoded line exceeds 76 characters (RFC 2045)."""
    subscriber = Subscriber(email="q@example.net", name=name)
    envelope = FACTORY_FOR_PROPERTY.envelope(subscriber)
    body = envelope.data.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    message = message_from_bytes(envelope.data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert html.replace("\r\n", "\n") == FACTORY_FOR_PROPERTY.html(subscriber)
    assert text.replace("\r\n", "\n") == FACTORY_FOR_PROPERTY.text(subscriber)


# A name may spell out an RFC 2047 encoded word; if it reached a header as is, mail programs
# would decode it, and these decode to CR/LF and a second header.
ENCODED_WORD_NAMES = [
    "Zoë =?utf-8?q?a=0D=0Ab?=",
    "Bob =?utf-8?q?a=0D=0ABcc:_x@example.org?=",
    "=?utf-8?b?RXZlDQpCY2M6IHhAZXhhbXBsZS5vcmc=?=",
    "=?utf-8?q?=0D=0A=0D=0A<html>?= " + "padding " * 8,
    "=?iso-8859-1?q?Ann?=",
]


@pytest.mark.parametrize("name", ENCODED_WORD_NAMES)
def test_a_name_is_never_read_as_an_encoded_word(factory: MessageFactory, name: str) -> None:
    envelope = factory.envelope(Subscriber(email="eve@example.net", name=name))
    to_lines = [line for line in header_block(envelope.data).split(b"\r\n") if b"=?" in line]
    assert to_lines, "the name should be RFC 2047-encoded"
    assert sorted(header_names(envelope.data)) == sorted(EXPECTED_HEADERS)
    message = message_from_bytes(envelope.data, policy=policy.default)
    assert message["Bcc"] is None
    (address,) = message["To"].addresses
    assert address.addr_spec == "eve@example.net"
    # decoded once, the display name is the name as written, not what it spells. (Python's
    # parser keeps the folding space between two encoded words of a long name, which RFC 2047
    # readers drop: compare with runs of spaces collapsed.)
    assert " ".join(address.display_name.split()) == " ".join(name.split())
    assert "\r" not in address.display_name and "\n" not in address.display_name
    text = message.get_body(("plain",)).get_content()
    first = greeting_name(name.strip())
    assert (f"Hello {first}," if first else "Hello,") in text


def test_no_header_injection_through_an_encoded_word_in_the_subject(tmp_path: Path) -> None:
    # the subject is built from the first article's title: data
    subject = "Digest: Vote =?utf-8?q?=0D=0ABcc:_b@example.org?= today"
    config = make_config(tmp_path, name="Digest =?utf-8?q?=0D=0AX-Evil:_1?=")
    issue = stored_issue(tmp_path, config, subject=subject)
    envelope = MessageFactory(issue, config, SECRET).envelope(Subscriber(email="c@example.net"))
    assert sorted(header_names(envelope.data)) == sorted(EXPECTED_HEADERS)
    message = message_from_bytes(envelope.data, policy=policy.default)
    assert message["Subject"] == subject
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert "\n" not in str(message["List-Id"])


def test_a_name_that_cannot_be_encoded_is_a_bad_recipient(factory: MessageFactory) -> None:
    # a lone surrogate has no UTF-8 form; it must cost one row, never the whole send
    with pytest.raises(BadRecipient, match="name"):
        factory.envelope(Subscriber(email="s@example.net", name="Ann \ud800"))


encoded_word_names = st.builds(
    lambda before, charset, kind, payload, after: f"{before}=?{charset}?{kind}?{payload}?={after}",
    st.text(max_size=10),
    st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", "bogus"]),
    st.sampled_from(["q", "b", "Q", "x"]),
    st.text(alphabet='=0123456789ADabcdXYZ_:@<>"\\ ', max_size=40),
    st.text(max_size=10),
)


@settings(max_examples=200, deadline=None)
@given(name=st.one_of(encoded_word_names, st.text(max_size=60)))
def test_one_bad_row_raises_nothing_but_bad_recipient(name: str) -> None:
    subscriber = Subscriber(email="p@example.net", name=name)
    try:
        envelope = FACTORY_FOR_PROPERTY.envelope(subscriber)
    except BadRecipient:
        return
    assert sorted(header_names(envelope.data)) == sorted(EXPECTED_HEADERS)
    message = FACTORY_FOR_PROPERTY.message(subscriber)
    (address,) = message["To"].addresses
    assert address.addr_spec == "p@example.net"
    assert "\r" not in address.display_name and "\n" not in address.display_name


def issue_from(parts_entries: list[IssueEntry], config: Config, templates: list[Path]) -> Issue:
    parts = render_issue(parts_entries, config=config, template_dirs=templates, subject="S")
    return Issue(
        id=3,
        key="k",
        subject="S",
        created=datetime.now(UTC),
        entries=parts_entries,
        html=parts.html,
        text=parts.text,
    )


@settings(max_examples=300, deadline=None)
@given(email=st.text(max_size=40), list_name=st.text(max_size=20), expires=st.booleans())
def test_a_token_reads_back_whatever_it_names(email: str, list_name: str, expires: bool) -> None:
    """Tokens are made by hand-joined JSON (two per message): any text reads back, and the
    payload is what json.dumps gives, as in every token sent before."""
    from datetime import UTC, datetime

    from digest.tokens import _unb64, make_legacy_token

    when = datetime(2100, 1, 1, tzinfo=UTC) if expires else None
    token = make_token(SECRET, email, list_name, expires=when)
    assert read_token(SECRET, token) == (email.lower(), list_name)
    legacy = make_legacy_token(SECRET, email, list_name, expires=when)
    assert read_token(SECRET, legacy) == (email.lower(), list_name)
    fields: list[object] = [email.lower(), list_name] + ([int(when.timestamp())] if when else [])
    assert _unb64(legacy.split(".")[0]) == json.dumps(fields, separators=(",", ":")).encode()


def test_a_placeholder_in_an_article_url_never_carries_the_token(config: Config) -> None:
    items = entries()
    items[0].source_url = "https://evil.example/r/@@digest:unsubscribe_url@@"
    items[1].other_sources = ["https://evil.example/o/@@digest:unsubscribe_url@@"]
    factory = MessageFactory(issue_from(items, config, [data_path("templates")]), config, SECRET)
    subscriber = Subscriber(email="ann@example.net", name="Ann")
    token = factory.token(subscriber)
    message = factory.message(subscriber)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert html.count(token) == 1 and text.count(token) == 1  # the footer's unsubscribe link
    assert "https://evil.example/r/%40%40digest:unsubscribe_url@@" in html


def test_templates_use_the_subscribers_own_columns(tmp_path: Path, config: Config) -> None:
    own = tmp_path / "templates"
    own.mkdir()
    (own / "digest.txt").write_text(
        "Weather in {{ recipient.attributes.city }} ({{ recipient.attributes['zip_code'] }})\n"
        "Unsubscribe: {{ recipient.unsubscribe_url }}\n",
        encoding="utf-8",
    )
    (own / "digest.html").write_text(
        "<p>Weather in {{ recipient.attributes.city }}</p>"
        '<a href="https://w.example/?c={{ recipient.attributes.city }}">forecast</a>'
        '<a href="{{ recipient.unsubscribe_url }}">Unsubscribe</a>',
        encoding="utf-8",
    )
    issue = issue_from(entries(), config, [own, data_path("templates")])
    factory = MessageFactory(issue, config, SECRET)
    city = 'Lyon <b>&</b> "Sud"'
    lyon = Subscriber(email="l@example.net", attributes={"city": city, "zip_code": "69001"})
    message = factory.message(lyon)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Weather in Lyon &lt;b&gt;&amp;&lt;/b&gt; &quot;Sud&quot;</p>" in html
    assert 'href="https://w.example/?c=Lyon &lt;b&gt;&amp;&lt;/b&gt; &quot;Sud&quot;"' in html
    assert f"Weather in {city} (69001)" in text
    # a subscriber without the column gets nothing; the web copy has nobody's
    bare = factory.message(Subscriber(email="b@example.net", attributes={"town": "Nice"}))
    assert "Weather in  ()" in bare.get_body(("plain",)).get_content()
    assert "Weather in </p>" in bare.get_body(("html",)).get_content()
    assert "Weather in </p>" in web_version(issue)
    assert "@@digest:" not in html + text + web_version(issue)


def test_headers_for_a_bulk_mailing_and_a_modern_date(factory: MessageFactory) -> None:
    subscriber = Subscriber(email="ann@example.net", name="Ann Lee", list="weekly")
    envelope = factory.envelope(subscriber)
    message = factory.message(subscriber)
    # auto-replies (vacation, out of office) stay away: RFC 3834 and the older Precedence
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Precedence"] == "bulk"
    raw_date = re.search(rb"^Date: ([^\r]*)\r$", header_block(envelope.data), re.MULTILINE)
    assert raw_date is not None and raw_date[1].endswith(b" +0000")  # not the obsolete GMT


def test_header_lines_are_folded_under_78_characters_where_possible(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        name="The Weekly Political Digest of the Northern Provinces and Islands",
        reply_to="The Editors of the Weekly Political Digest <editors@news.example.org>",
    )
    factory = MessageFactory(stored_issue(tmp_path, config), config, SECRET)
    subscriber = Subscriber(
        email="a.rather.long.address.indeed@example.net",
        name="Annabel Leonora Featherstonehaugh-Cholmondeley",
        list="weekly",
    )
    for line in header_block(factory.envelope(subscriber).data).split(b"\r\n"):
        if len(line) > 78:
            # only a line holding one token that no space divides (a long URL) may be longer
            value = line.split(b":", 1)[1] if line[:1] not in (b" ", b"\t") else line
            assert len(value.split()) == 1, line


def test_the_preheader_is_hidden_without_a_same_colour_trick(factory: MessageFactory) -> None:
    """SpamAssassin's HTML_FONT_LOW_CONTRAST fires on text coloured like its background."""
    html = factory.html(Subscriber(email="ann@example.net", list="weekly"))
    preheader = re.search(r'<div class="preheader"[^>]*style="([^"]*)"', html)
    assert preheader is not None
    style = preheader[1].replace(" ", "")
    assert "display:none" in style
    assert "color:" not in style and "opacity:0" not in style


def test_a_verp_bounce_address_is_each_message_s_envelope_sender_and_its_mailto(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, bounce_address="bounces+{token}@news.example.org")
    issue = stored_issue(tmp_path, config)
    factory = MessageFactory(issue, config, SECRET)
    ann = factory.envelope(Subscriber(email="Ann@Example.net", list="weekly"))
    bob = factory.envelope(Subscriber(email="bob@example.net", list="weekly"))
    token = make_bounce_token(SECRET, issue.id, "ann@example.net")
    assert ann.sender == f"bounces+{token}@news.example.org"
    assert bob.sender != ann.sender and bob.sender.startswith("bounces+")
    local = ann.sender.partition("@")[0]
    # fits a local part, survives an MTA that lower-cases it, needs no quoting
    assert len(local) <= 64 and local == local.lower()
    assert re.fullmatch(r"[a-z0-9+-]+", local)
    assert bounce_token_issue(token.upper()) == issue.id
    message = message_from_bytes(ann.data, policy=policy.default)
    assert message["From"] == "The Political Digest <digest@news.example.org>"
    https, mailto = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    web_token = parse_qs(urlsplit(https).query)["token"][0]
    assert mailto == f"mailto:{ann.sender}?subject=unsubscribe%20{web_token}"


def test_a_fixed_bounce_address_is_the_envelope_sender_of_every_message(tmp_path: Path) -> None:
    config = make_config(tmp_path, bounce_address="bounces@news.example.org")
    factory = MessageFactory(stored_issue(tmp_path, config), config, SECRET)
    envelope = factory.envelope(Subscriber(email="ann@example.net"))
    assert envelope.sender == "bounces@news.example.org"
    assert b"<mailto:bounces@news.example.org?subject=unsubscribe%20" in envelope.data
    assert parseaddr(factory.message(Subscriber(email="ann@example.net"))["From"])[1] == (
        "digest@news.example.org"
    )


@pytest.mark.parametrize(
    "template",
    [
        "bounces",
        "bounces+{token}+{token}@example.org",
        "bounces\r\nBcc: x@y.org+{token}@example.org",
        "b ounces+{token}@example.org",
        '"bounces"+{token}@example.org',
        "bounces+{token}@exa mple.org",
        "a" * 40 + "+{token}@example.org",
    ],
)
def test_a_bad_bounce_address_is_refused_in_one_line(tmp_path: Path, template: str) -> None:
    (tmp_path / "digest.toml").write_text(
        "[transport]\nbounce_address = " + json.dumps(template) + "\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="transport.bounce_address") as caught:
        load_config(tmp_path / "digest.toml", env={})
    assert "\n" not in str(caught.value)


def test_the_bounce_address_comes_from_the_environment_too(tmp_path: Path) -> None:
    (tmp_path / "digest.toml").write_text("", encoding="utf-8")
    env = {"DIGEST_BOUNCE_ADDRESS": "bounces+{token}@example.org"}
    assert (
        load_config(tmp_path / "digest.toml", env=env).bounce_address
        == env["DIGEST_BOUNCE_ADDRESS"]
    )
    with pytest.raises(ConfigError):
        load_config(tmp_path / "digest.toml", env={"DIGEST_BOUNCE_ADDRESS": "no-at-sign"})


def test_the_outbox_records_the_envelope_sender_and_dkim_still_verifies(tmp_path: Path) -> None:
    import dkim
    from send_support import dkim_key

    from digest.dkim import DKIMSigner

    config = make_config(tmp_path, bounce_address="bounces+{token}@news.example.org")
    factory = MessageFactory(stored_issue(tmp_path, config), config, SECRET)
    envelope = factory.envelope(Subscriber(email="ann@example.net"))
    key_pem, dns_record = dkim_key()
    signer = DKIMSigner(selector=b"s1", domain=b"news.example.org", private_key=key_pem)
    signed = replace(envelope, data=signer.sign(envelope.data))
    outbox = OutboxTransport(tmp_path / "outbox")
    asyncio.run(outbox.send(signed))
    (stored,) = mailbox.Maildir(tmp_path / "outbox", create=False)
    assert stored["Return-Path"] == f"<{envelope.sender}>"
    raw = stored.as_bytes().replace(b"\n", b"\r\n")
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: dns_record)


@pytest.mark.parametrize(
    ("name", "greeted"),
    [
        ("Ada Lovelace", "Ada"),
        ("Lovelace, Ada", "Ada"),
        ("Dr Ada Lovelace", "Dr Lovelace"),
        ("Reader 12", ""),  # issue 23: "Dear Reader 12" reads as a mail merge gone wrong
        ("ada@example.org", ""),
        ("", ""),
    ],
)
def test_the_greeting_uses_the_first_name_or_none(name: str, greeted: str) -> None:
    assert greeting_name(name) == greeted
