"""`digest.toml`: the project's settings, validated once, with environment overrides.

Every problem is reported as one line naming the key and the file (a `ConfigError`, exit code 2),
never a traceback.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digest.classify import POLITICAL_THRESHOLD
from digest.errors import ConfigError, DigestError

CONFIG_NAME = "digest.toml"
TRANSPORTS = ("outbox", "smtp", "memory")
# a list's name names its CSV file and goes into tokens, where ':' separates a purpose prefix
LIST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_LIST_KEYS = ("title", "description")


@dataclass(frozen=True)
class ListInfo:
    """A list offered to readers (`[lists]` in digest.toml): its name and what people read."""

    name: str
    title: str
    description: str = ""


@dataclass
class Config:
    path: Path
    name: str = "The Political Digest"
    from_address: str = "The Political Digest <digest@example.org>"
    reply_to: str = ""
    base_url: str = "http://127.0.0.1:8080"
    language: str = "en"
    # the sender's postal address, shown in every issue's footer (CAN-SPAM asks for one)
    postal_address: str = ""
    # sources: folders are relative to the project
    source_folders: list[str] = field(default_factory=list)
    source_feeds: list[str] = field(default_factory=list)
    source_pages: list[str] = field(default_factory=list)
    max_bytes: int = 5_000_000
    # feeds and pages on non-public addresses: refused (False), allowed (True) or these networks
    allow_private: bool | list[IPv4Network | IPv6Network] = False
    # feed entries with only a headline and a link: fetch the page they link to
    follow_links: bool = False
    # the HTTP proxy feeds and pages go through ("": none; http_proxy and the like are ignored)
    proxy: str = ""
    # selection
    since: str = "7d"
    limit: int = 10
    min_stories: int = 1
    min_score: float = POLITICAL_THRESHOLD
    # summaries
    sentences: int = 3
    words: int = 90
    algorithm: str = "digest"
    # transport
    transport: str = "outbox"
    smtp_url: str = ""
    concurrency: int = 8
    rate: float = 0.0  # messages per second, 0 = unlimited
    hourly_cap: int = 0  # messages per hour, 0 = unlimited
    timeout: float = 30.0
    max_total_attempts: int = 0  # tries per address over all runs; 0 = 3 × --max-attempts
    greylist_delay: float = 300.0  # seconds before a greylisted address is tried again
    dkim_selector: str = ""
    dkim_key_file: str = ""
    helo_name: str = ""  # the EHLO name; default: this host's fully-qualified name
    ca_file: str = ""  # PEM CA certificates trusted in addition to the system's
    insecure: bool = False  # do not verify the relay's certificate (test servers only)
    max_send_errors: int = 10  # the same permanent failure this many times in a row: pause
    # the envelope sender (Return-Path) of every newsletter message; `{token}` in it (VERP)
    # becomes a signed token naming the recipient and the issue; empty: the From address
    bounce_address: str = ""
    # store: a PostgreSQL URL without its password; empty: the SQLite file under .digest/
    store_url: str = ""
    # PostgreSQL: seconds a statement waits for a lock, and runs, before it fails (a co-tenant
    # holding our tables or advisory locks must not hang every command)
    lock_timeout: float = 30.0
    statement_timeout: float = 300.0
    # subscribers
    bounce_limit: int = 3
    allow_test_domains: bool = False  # accept addresses at .test (test deployments only)
    confirm_hours: int = 48  # how long a sign-up's confirmation link works
    # web sign-ups: the address's domain must accept mail (DNS); the system's resolver, or
    # `dns_server` ("IP" or "IP:port")
    check_dns: bool = False
    dns_server: str = ""
    # sign-up limits, shared by every web replica through the store; 0: no limit
    signups_per_client_hour: int = 20  # POST /subscribe per client address per hour
    confirmations_per_address_day: int = 3  # confirmation emails one address gets per day
    confirmations_per_domain_hour: int = 50  # confirmation emails to one domain per hour
    # the lists readers may choose on the web (`[lists]`); empty: those the files and store know
    lists: dict[str, ListInfo] = field(default_factory=dict)
    # bounces: the mailbox `digest bounces` (and `digest run`, first) reads; plain imap:// only
    # when allowed
    bounces_source: str = ""
    bounces_allow_plaintext: bool = False
    # act on a report that only names an address (nothing of ours in it): off, since anybody
    # can mail the bounce address a report naming anybody
    bounces_trust_addresses: bool = False
    # schedule: `digest run` leaves what it builds as a draft for an editor to approve
    hold: bool = False
    # the list `digest run` sends to; "" for every list (refused when [lists] offers several)
    schedule_list: str = ""
    # stats (docs/stats.md): story links count follows per (issue, story), the same link for
    # every reader; counts under `min_count` are shown as "< min_count" (0: every count shown)
    clicks: bool = False
    min_count: int = 0
    # secrets: only ever from the environment, never written back
    smtp_password: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    # after a rotation: older secrets whose links must still verify (never used to sign)
    previous_secrets: list[str] = field(default_factory=list, repr=False)

    @property
    def sources(self) -> list[str]:
        base = self.path.parent
        folders = [str((base / f).resolve()) for f in self.source_folders]
        return folders + self.source_feeds + self.source_pages


# (section, key) -> (attribute, type)
_SCHEMA: dict[tuple[str, str], tuple[str, type | tuple[type, ...]]] = {
    ("newsletter", "name"): ("name", str),
    ("newsletter", "from"): ("from_address", str),
    ("newsletter", "reply_to"): ("reply_to", str),
    ("newsletter", "base_url"): ("base_url", str),
    ("newsletter", "language"): ("language", str),
    ("newsletter", "postal_address"): ("postal_address", str),
    ("sources", "folders"): ("source_folders", list),
    ("sources", "feeds"): ("source_feeds", list),
    ("sources", "pages"): ("source_pages", list),
    ("sources", "max_bytes"): ("max_bytes", int),
    ("sources", "allow_private"): ("allow_private", (bool, list)),
    ("sources", "follow_links"): ("follow_links", bool),
    ("sources", "proxy"): ("proxy", str),
    ("selection", "since"): ("since", str),
    ("selection", "limit"): ("limit", int),
    ("selection", "min_stories"): ("min_stories", int),
    ("selection", "min_score"): ("min_score", (int, float)),
    ("summary", "sentences"): ("sentences", int),
    ("summary", "words"): ("words", int),
    ("summary", "algorithm"): ("algorithm", str),
    ("transport", "backend"): ("transport", str),
    ("transport", "smtp_url"): ("smtp_url", str),
    ("transport", "concurrency"): ("concurrency", int),
    ("transport", "rate"): ("rate", (int, float)),
    ("transport", "hourly_cap"): ("hourly_cap", int),
    ("transport", "timeout"): ("timeout", (int, float)),
    ("transport", "max_total_attempts"): ("max_total_attempts", int),
    ("transport", "greylist_delay"): ("greylist_delay", (int, float)),
    ("transport", "dkim_selector"): ("dkim_selector", str),
    ("transport", "dkim_key_file"): ("dkim_key_file", str),
    ("transport", "helo_name"): ("helo_name", str),
    ("transport", "ca_file"): ("ca_file", str),
    ("transport", "insecure"): ("insecure", bool),
    ("transport", "max_send_errors"): ("max_send_errors", int),
    ("transport", "bounce_address"): ("bounce_address", str),
    ("store", "url"): ("store_url", str),
    ("store", "lock_timeout"): ("lock_timeout", (int, float)),
    ("store", "statement_timeout"): ("statement_timeout", (int, float)),
    ("subscribers", "bounce_limit"): ("bounce_limit", int),
    ("subscribers", "allow_test_domains"): ("allow_test_domains", bool),
    ("subscribers", "confirm_hours"): ("confirm_hours", int),
    ("subscribers", "check_dns"): ("check_dns", bool),
    ("subscribers", "dns_server"): ("dns_server", str),
    ("subscribers", "signups_per_client_hour"): ("signups_per_client_hour", int),
    ("subscribers", "confirmations_per_address_day"): ("confirmations_per_address_day", int),
    ("subscribers", "confirmations_per_domain_hour"): ("confirmations_per_domain_hour", int),
    ("bounces", "source"): ("bounces_source", str),
    ("bounces", "allow_plaintext"): ("bounces_allow_plaintext", bool),
    ("bounces", "trust_addresses"): ("bounces_trust_addresses", bool),
    ("schedule", "hold"): ("hold", bool),
    ("schedule", "list"): ("schedule_list", str),
    ("stats", "clicks"): ("clicks", bool),
    ("stats", "min_count"): ("min_count", int),
}

_POSITIVE = {
    "limit",
    "sentences",
    "words",
    "concurrency",
    "max_bytes",
    "timeout",
    "bounce_limit",
    "confirm_hours",
    "lock_timeout",
    "statement_timeout",
}
_NON_NEGATIVE = {
    "min_stories",
    "min_count",
    "rate",
    "hourly_cap",
    "max_total_attempts",
    "greylist_delay",
    "max_send_errors",
    "signups_per_client_hour",
    "confirmations_per_address_day",
    "confirmations_per_domain_hour",
}


def load_config(path: Path, env: dict[str, str] | None = None) -> Config:
    """Read and validate `path`, then apply the DIGEST_* environment overrides."""
    env = dict(os.environ) if env is None else env
    if not path.is_file():
        raise ConfigError(f"{path}: not found (run `digest init` to create a project)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    config = Config(path=path)
    for section, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: `{section}` must be a [section]")
        if section == "lists":
            config.lists = _lists(path, table)
            continue
        for key, value in table.items():
            _set(config, path, section, key, value)
    _apply_env(config, env)
    _validate(config, path)
    return config


# what a setting's type is called in an error message
_KINDS: dict[object, str] = {
    int: "a whole number",
    str: "a string",
    list: "a list",
    bool: "true or false",
}


def _set(config: Config, path: Path, section: str, key: str, value: Any) -> None:
    spec = _SCHEMA.get((section, key))
    if spec is None:
        raise ConfigError(f"{path}: unknown setting `{section}.{key}`")
    attr, kind = spec
    if attr == "allow_private":
        config.allow_private = _private_networks(path, value)
        return
    # bool is an int in Python; a `true` where a number belongs is still a mistake
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ConfigError(
            f"{path}: `{section}.{key}` must be {_KINDS.get(kind, 'a number')}, not {value!r}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{path}: `{section}.{key}` must be a finite number, not {value!r}")
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: `{section}.{key}` must be a list of strings")
    setattr(config, attr, value)


def _lists(path: Path, table: dict[str, Any]) -> dict[str, ListInfo]:
    """`[lists]`: `news = "Weekly news"`, or `[lists.news]` with `title` and `description`."""
    lists = {}
    for name, value in table.items():
        where = f"{path}: `lists.{name}`"
        if not LIST_NAME.match(name):
            raise ConfigError(
                f"{where}: a list name is letters, digits, '.', '_' or '-' (at most 64)"
            )
        fields = {"title": value} if isinstance(value, str) else value
        if not isinstance(fields, dict):
            raise ConfigError(f"{where} must be a title or a table with `title`, `description`")
        for key, text in fields.items():
            if key not in _LIST_KEYS:
                raise ConfigError(f"{path}: unknown setting `lists.{name}.{key}`")
            if not isinstance(text, str) or any(c in text for c in "\r\n"):
                raise ConfigError(f"{path}: `lists.{name}.{key}` must be one line of text")
        title = fields.get("title", "").strip() or name
        lists[name] = ListInfo(name, title, fields.get("description", "").strip())
    return lists


def dns_server_address(text: str) -> tuple[str, int] | None:
    """("IP", port) of `subscribers.dns_server` ("IP", "IP:port" or "[IPv6]:port"); None if it
    is not one."""
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        address, number = ip_address(host), int(port)
    except ValueError:
        return None
    return (str(address), number) if 0 < number < 65536 else None


def _private_networks(path: Path, value: Any) -> bool | list[IPv4Network | IPv6Network]:
    if isinstance(value, bool):
        return value
    try:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [ip_network(v, strict=False) for v in value]
    except ValueError:
        pass
    raise ConfigError(
        f"{path}: `sources.allow_private` must be true, false or a list of networks like"
        f' ["10.1.0.0/16"], not {value!r}'
    )


def _apply_env(config: Config, env: dict[str, str]) -> None:
    if env.get("DIGEST_SMTP_URL"):
        config.smtp_url = env["DIGEST_SMTP_URL"]
        config.transport = "smtp"
    if env.get("DIGEST_DATABASE_URL"):
        config.store_url = env["DIGEST_DATABASE_URL"]
    if env.get("DIGEST_BASE_URL"):
        config.base_url = env["DIGEST_BASE_URL"]
    if env.get("DIGEST_BOUNCE_ADDRESS"):
        config.bounce_address = env["DIGEST_BOUNCE_ADDRESS"]
    if env.get("DIGEST_BOUNCES_SOURCE"):
        config.bounces_source = env["DIGEST_BOUNCES_SOURCE"]
    config.smtp_password = env.get("DIGEST_SMTP_PASSWORD") or None
    # set but empty stays "": digest.tokens refuses it rather than falling back to the file
    config.secret = env.get("DIGEST_SECRET")
    previous = env.get("DIGEST_SECRET_PREVIOUS") or ""
    config.previous_secrets = [s.strip() for s in previous.split(",") if s.strip()]


def _validate(config: Config, path: Path) -> None:
    proxy = urlsplit(config.proxy)
    if config.proxy and (proxy.scheme not in ("http", "https") or not proxy.hostname):
        raise ConfigError(
            f'{path}: `sources.proxy` must be an http:// URL like "http://proxy.internal:3128"'
        )
    keys = {attr: f"{s}.{k}" for (s, k), (attr, _) in _SCHEMA.items()}
    for attr in _POSITIVE:
        if getattr(config, attr) <= 0:
            raise ConfigError(f"{path}: `{keys[attr]}` must be greater than 0")
    for attr in _NON_NEGATIVE:
        if getattr(config, attr) < 0:
            raise ConfigError(f"{path}: `{keys[attr]}` must not be negative")
    from digest.select import parse_since

    try:
        parse_since(config.since, name=f"{path}: `selection.since`")
    except DigestError as exc:
        raise ConfigError(str(exc)) from None
    if not 0 <= config.min_score <= 1:
        raise ConfigError(f"{path}: `selection.min_score` must be between 0 and 1")
    if config.transport not in TRANSPORTS:
        raise ConfigError(
            f"{path}: `transport.backend` must be one of {', '.join(TRANSPORTS)}, "
            f"not {config.transport!r}"
        )
    if config.transport == "smtp" and not config.smtp_url:
        raise ConfigError(f"{path}: `transport.smtp_url` is required when the backend is smtp")
    if config.helo_name and not re.fullmatch(
        r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]", config.helo_name
    ):
        raise ConfigError(
            f"{path}: `transport.helo_name` must be a host name such as mail.example.org,"
            f" not {config.helo_name!r}"
        )
    if config.dns_server and dns_server_address(config.dns_server) is None:
        raise ConfigError(
            f"{path}: `subscribers.dns_server` must be an IP address, optionally with a port"
            f" (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:53), not {config.dns_server!r}"
        )
    if config.ca_file:
        ca_file = Path(config.ca_file)
        config.ca_file = str(ca_file if ca_file.is_absolute() else path.parent / ca_file)
        if not Path(config.ca_file).is_file():
            raise ConfigError(f"{path}: `transport.ca_file` {config.ca_file}: no such file")
    if config.store_url:
        from digest.store.database import check_database_url

        check_database_url(config.store_url, f"{path}: `store.url` (or DIGEST_DATABASE_URL)")
    base = urlsplit(config.base_url)
    # urlsplit quietly drops CR/LF/TAB; the raw value goes into List-Unsubscribe headers
    if (
        base.scheme not in ("http", "https")
        or not base.netloc
        or any(c.isspace() or not c.isprintable() or c in '<>"' for c in config.base_url)
    ):
        raise ConfigError(
            f"{path}: `newsletter.base_url` (or DIGEST_BASE_URL) must be an http(s) URL,"
            f" not {config.base_url!r}"
        )
    from email.utils import parseaddr

    if "@" not in parseaddr(config.from_address)[1] or any(
        c in config.from_address for c in "\r\n"
    ):
        raise ConfigError(f"{path}: `newsletter.from` must be an email address")
    if config.reply_to and "@" not in parseaddr(config.reply_to)[1]:
        raise ConfigError(f"{path}: `newsletter.reply_to` must be an email address")
    if config.bounce_address:
        from digest.tokens import bounce_address_problem

        problem = bounce_address_problem(config.bounce_address)
        if problem:
            raise ConfigError(
                f"{path}: `transport.bounce_address` (or DIGEST_BOUNCE_ADDRESS) {problem}"
            )


DEFAULT_CONFIG = """\
# digest project settings. Secrets never go here: use the environment
# (DIGEST_SMTP_PASSWORD, DIGEST_SECRET, and after a rotation DIGEST_SECRET_PREVIOUS).
# DIGEST_SMTP_URL, DIGEST_BASE_URL and DIGEST_DATABASE_URL override.

[newsletter]
name = "The Political Digest"
from = "The Political Digest <digest@example.org>"
reply_to = "editors@example.org"
# where `digest serve` is reachable: unsubscribe and web-version links point here
base_url = "http://127.0.0.1:8080"
language = "en"
# your postal address, shown in every issue's footer (CAN-SPAM requires one; an SMTP send warns
# while it is empty), e.g. "The Political Digest, 1 High Street, London N1 1AA"
postal_address = ""

[sources]
# folders of articles (relative to this file), RSS/Atom feed URLs, article page URLs
folders = ["articles"]
feeds = []
pages = []
# feeds and pages on loopback, private or link-local addresses are refused; allow them for an
# intranet source with true, or only some networks with a list like ["10.1.0.0/16"]
allow_private = false
# feed entries with only a headline and a link are fetched from their link when true; when
# false, the feed's line says how many were left unread
follow_links = false
# feeds and pages go through this HTTP proxy ("http://proxy.internal:3128"); without it they
# connect directly, whatever http_proxy/https_proxy say (a proxy would skip the address checks)
# proxy = ""

[selection]
since = "7d"
limit = 10
min_stories = 1
# the political classifier's bar for a story: its calibrated probability (0-1) that the story
# is political. 0.5 is also where `digest classify` says "political" (docs/selection.md)
min_score = 0.5

[summary]
sentences = 3
words = 90
algorithm = "digest"

[transport]
# outbox: a Maildir in ./outbox; smtp: needs smtp_url (password from DIGEST_SMTP_PASSWORD)
backend = "outbox"
smtp_url = ""
concurrency = 8
rate = 0
hourly_cap = 0
timeout = 30
# tries per address over all runs before a temporary failure becomes permanent (0: 3 × max-attempts)
max_total_attempts = 0
# the name we give in EHLO; relays refuse "localhost" or a container id: use this host's
# public, fully-qualified name (default: what the system calls itself)
# helo_name = "mail.example.org"
# a private CA's certificates (PEM), trusted in addition to the system's
# ca_file = "/etc/ssl/private-ca.pem"
# pause the send when this many permanent failures in a row carry the same reply (0: never)
max_send_errors = 10
# the envelope sender (Return-Path) bounces go to, at a domain you control; "{token}" makes each
# message's unique (VERP), so `digest bounces` knows whose it is without guessing. The
# List-Unsubscribe mailto: link points here too (none without it). docs/subscribers.md
# bounce_address = "bounces+{token}@example.org"

[subscribers]
# permanent failures before an address is suppressed as bounced
bounce_limit = 3
# accept addresses at the reserved .test domain (a test deployment only)
allow_test_domains = false
# hours a sign-up's confirmation link (double opt-in, `digest serve`) keeps working
confirm_hours = 48
# web sign-ups: refuse an address whose domain does not exist or accepts no mail (a DNS lookup
# per sign-up, at most 5 s; a resolver that does not answer refuses nobody), through the
# system's resolver or dns_server ("192.0.2.53" or "192.0.2.53:5353")
check_dns = false
# dns_server = "192.0.2.53"
# the sign-up form's limits, shared by every web replica through the store (0: no limit):
# sign-ups one client address (an IPv6 one by its /48) may post per hour (more get 429),
# confirmation emails one mailbox may receive per day, however its address is spelled
# (name+tag@, and dots at Gmail, count as name@), and confirmation emails to one domain per hour
# (more sign-ups get the same page, and no email)
signups_per_client_hour = 20
confirmations_per_address_day = 3
confirmations_per_domain_hour = 50

# The lists readers may choose when they sign up or change their preferences on the web, each
# with the title they read. Without [lists], the web offers the lists subscribers/ and the store
# know (or "default"). A name is letters, digits, '.', '_' or '-'.
# [lists]
# news = "The weekly digest"
# [lists.local]
# title = "Local politics"
# description = "A short note when the council votes."

[bounces]
# the mailbox bounces, complaints and mailto: unsubscribes arrive in, read by `digest bounces`
# and first thing by every `digest run`: a Maildir folder, an mbox file, or
# "imaps://user@host/INBOX" (password from DIGEST_IMAP_PASSWORD)
# source = "/var/mail/digest-bounces/"
# a report is acted on only when it carries something of ours (the VERP token, our Message-ID,
# a signed link); one that only names an address is left in place, since anybody can mail the
# bounce address. true: act on those too (a relay that strips everything of ours)
trust_addresses = false

[schedule]
# true: `digest run` builds each issue as a draft and sends it only once an editor approved it
# (`digest issue approve`, or approve in `digest preview`)
hold = false
# the list `digest run` sends each issue to; empty: every list. Required once [lists] offers
# readers several: a reader who chose one list gets only that list's issues
# list = "news"

[stats]
# true: each story link in a sent issue goes through `digest serve` (base_url/r/...), which
# counts the follow and redirects to the story. The link is the same in every reader's copy:
# no reader is identified, no address or browser is stored, and opens are not measured
# (`digest report`, docs/stats.md)
clicks = false
# counts below this are shown as "< N" in reports, so that on a small list a count cannot point
# at one reader (0: show every count)
min_count = 5

[store]
# empty: the SQLite file in .digest/ (nothing to set up). Several hosts sharing one project:
# url = "postgresql://digest@db.example.org:5432/digest" (or DIGEST_DATABASE_URL); the password
# only from PGPASSWORD, DIGEST_DATABASE_PASSWORD or a pgpass file (docs/deploy.md)
url = ""
# PostgreSQL: seconds to wait for a lock another session holds, and for one statement, before
# the command fails saying so
# lock_timeout = 30
# statement_timeout = 300
"""
