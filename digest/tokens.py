"""Unsubscribe (and other) tokens: the subscriber's address and list, sealed with AES-SIV under a
key derived from the secret, so a link tells nobody who it is for (a forwarded mail, a proxy's
log) and cannot be altered into another subscriber's. Tokens made before (base64 JSON, a dot,
and an HMAC-SHA256 over it: the address readable) are still read, so links already sent work.

The secret comes from DIGEST_SECRET, or is generated on first use and kept in `.digest/secret`
(mode 0600); a signing secret shorter than 32 bytes is refused, and so is an empty DIGEST_SECRET.
A token cannot be altered into another subscriber's without the secret. A token may carry an
expiry time (signed with the rest); the tokens in messages carry none. After a rotation the old
secrets, in DIGEST_SECRET_PREVIOUS, still verify (links in messages already sent keep working)
but never sign, as does `.digest/secret` once DIGEST_SECRET replaces it. digest.keys notices a
change of secret that would break links.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from digest.errors import DigestError


class BadToken(DigestError):
    """A token that is malformed, altered or signed with another secret."""


# A signing secret: 32 bytes, as much as the HMAC's key block uses well. A secret that only
# verifies (DIGEST_SECRET_PREVIOUS, or `.digest/secret` once DIGEST_SECRET is set) may be as short
# as the 16 bytes that were once the minimum, so links signed before the rule keep working.
MIN_SECRET_BYTES = 32
MIN_VERIFYING_SECRET_BYTES = 16
_NEW_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def load_secret(state_dir: Path, env_secret: str | None) -> bytes:
    """The signing secret: DIGEST_SECRET, else `.digest/secret`, generated on first use. A secret
    shorter than MIN_SECRET_BYTES is refused, an empty DIGEST_SECRET too (set but empty is a
    mistake, never a reason to fall back to the file)."""
    if env_secret is not None:
        secret = env_secret.encode()
        if not secret.strip():
            raise DigestError(
                "DIGEST_SECRET is set but empty; set it to a secret of at least "
                f"{MIN_SECRET_BYTES} bytes (for example: {_NEW_SECRET}), or unset it to use "
                f"{state_dir / 'secret'}"
            )
        if len(secret) < MIN_SECRET_BYTES:
            raise DigestError(
                f"DIGEST_SECRET is {len(secret)} bytes; a signing secret must be at least "
                f"{MIN_SECRET_BYTES} bytes. To keep the links already sent working, move it to "
                f"DIGEST_SECRET_PREVIOUS and set a new DIGEST_SECRET (for example: {_NEW_SECRET})"
            )
        return secret
    path = state_dir / "secret"
    if not path.exists():
        try:
            _generate_secret(path)
        except OSError as exc:
            raise DigestError(f"{path}: cannot create the signing secret: {exc}") from None
    secret = _file_secret(path)
    if len(secret) < MIN_SECRET_BYTES:
        raise DigestError(
            f"{path}: the signing secret is {len(secret)} bytes; it must be at least "
            f"{MIN_SECRET_BYTES} bytes. Set DIGEST_SECRET to a new one (for example: "
            f"{_NEW_SECRET}); this file then still verifies the links already sent"
        )
    return secret


def _file_secret(path: Path) -> bytes:
    try:
        return path.read_text(encoding="utf-8").strip().encode()
    except OSError as exc:
        raise DigestError(f"{path}: cannot read the signing secret: {exc}") from None
    except UnicodeDecodeError:
        raise DigestError(f"{path}: the signing secret is not UTF-8 text") from None


def load_verification_secrets(
    state_dir: Path, env_secret: str | None, previous: Sequence[str] = ()
) -> list[bytes]:
    """The signing secret first, then each previous one (DIGEST_SECRET_PREVIOUS), then, when
    DIGEST_SECRET signs, the automatic `.digest/secret` a project may have begun with: a token
    signed with any of them verifies. A secret that only verifies needs
    MIN_VERIFYING_SECRET_BYTES."""
    secrets = [load_secret(state_dir, env_secret)]
    for number, old in enumerate(previous, start=1):
        if len(old.encode()) < MIN_VERIFYING_SECRET_BYTES:
            raise DigestError(
                f"DIGEST_SECRET_PREVIOUS: secret {number} is {len(old.encode())} bytes; each must "
                f"be at least {MIN_VERIFYING_SECRET_BYTES} bytes"
            )
        secrets.append(old.encode())
    path = state_dir / "secret"
    if env_secret is not None and path.exists():
        began_with = _file_secret(path)
        if len(began_with) >= MIN_VERIFYING_SECRET_BYTES and began_with not in secrets:
            secrets.append(began_with)
    return secrets


def _generate_secret(path: Path) -> None:
    """Write a new secret to a private temporary file, then link it into place: the secret file
    appears whole or not at all, and a process that loses the race keeps the winner's secret
    (a link, unlike a rename, never replaces an existing file)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_urlsafe(32))
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


_json_string = json.encoder.encode_basestring_ascii


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.lru_cache(maxsize=16)
def _keyed(secret: bytes) -> hmac.HMAC:
    """The HMAC keyed with `secret` over the tokens' fixed prefix, to copy: a send makes two
    tokens per message, and keying costs as much as the rest of one."""
    return hmac.new(secret, b"unsubscribe\x00", hashlib.sha256)


def _mac(secret: bytes, payload: bytes) -> bytes:
    mac = _keyed(secret).copy()
    mac.update(payload)
    return mac.digest()


_SEALED_BY = b"digest token"  # associated data: a token of ours, and of this kind


@functools.lru_cache(maxsize=16)
def _sealer(secret: bytes) -> AESSIV:
    """AES-256-SIV under a key derived from `secret` (never the HMAC's key itself). SIV is
    deterministic: one address's link is the same in every message, as before."""
    key = hmac.new(secret, b"digest token sealing key", hashlib.sha512).digest()
    return AESSIV(key)


def _payload(email: str, list_name: str, expires: datetime | None) -> bytes:
    # json.dumps(fields, separators=(",", ":")), byte for byte, at half the cost: a send makes
    # two tokens per message
    expiry = "" if expires is None else f",{int(expires.timestamp())}"
    return f"[{_json_string(email.lower())},{_json_string(list_name)}{expiry}]".encode()


def make_token(
    secret: bytes, email: str, list_name: str, *, expires: datetime | None = None
) -> str:
    """An opaque token naming `email` on `list_name` (base64 of the sealed fields: no dot).
    Without `expires` it never expires: an unsubscribe link must keep working in an old
    message."""
    return _b64(_sealer(secret).encrypt(_payload(email, list_name, expires), [_SEALED_BY]))


def make_legacy_token(
    secret: bytes, email: str, list_name: str, *, expires: datetime | None = None
) -> str:
    """A token as digest made them before they were sealed (the fields readable, then an
    HMAC): still read, never made for a message now; for tests of links already sent."""
    payload = _payload(email, list_name, expires)
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


# A token's list field is a list name (letters, digits, '.', '_', '-'), so a purpose prefix with
# a ':' keeps the tokens of other uses (digest.signup's too) apart from unsubscribe tokens.
PREFERENCES = "preferences:"


def preferences_token(secret: bytes, email: str, list_name: str) -> str:
    """The token of a message's preferences link: like the unsubscribe token it never expires
    (an old message's link keeps working) and verifies under a previous secret too, but works
    only on the preferences page, and the unsubscribe one only on its own."""
    return make_token(secret, email, PREFERENCES + list_name)


def read_purpose_token(
    secret: bytes | Sequence[bytes], token: str, purpose: str, what: str
) -> tuple[str, str]:
    """(email or nonce, the rest of its field) of a genuine, unexpired token made for `purpose`
    (a prefix ending in ':'); BadToken for any other token, an unsubscribe one included."""
    subject, field = read_token(secret, token)
    if not field.startswith(purpose):
        raise BadToken(f"not a {what} token")
    return subject, field.removeprefix(purpose)


def read_unsubscribe_token(secret: bytes | Sequence[bytes], token: str) -> tuple[str, str]:
    """(email, list) of a genuine unsubscribe token; BadToken for any other: the field of every
    other purpose's token (confirmation, preferences, form) holds a ':', which no list name
    does."""
    email, list_name = read_token(secret, token)
    if ":" in list_name:
        raise BadToken("not an unsubscribe token")
    return email, list_name


def read_preferences_token(secret: bytes | Sequence[bytes], token: str) -> tuple[str, str]:
    """(email, list of the message it came in) of a genuine preferences token; else BadToken."""
    return read_purpose_token(secret, token, PREFERENCES, "preferences")


def read_token(
    secret: bytes | Sequence[bytes], token: str, *, now: datetime | None = None
) -> tuple[str, str]:
    """(email, list) named by a genuine, unexpired token made with `secret` (or any of a list
    of secrets), sealed or of the older signed kind; BadToken otherwise."""
    keys = [secret] if isinstance(secret, bytes) else secret
    payload = _unsealed(keys, token) if "." not in token else _verified(keys, token)
    try:
        fields = json.loads(payload)
        email, list_name, *rest = fields
        expires = int(rest[0]) if rest else None
    except (ValueError, TypeError) as exc:
        raise BadToken("malformed unsubscribe token") from exc
    if not isinstance(email, str) or not isinstance(list_name, str) or len(rest) > 1:
        raise BadToken("malformed unsubscribe token")
    if expires is not None and (now or datetime.now(UTC)).timestamp() >= expires:
        raise BadToken("unsubscribe token has expired")
    return email, list_name


def _unsealed(keys: Sequence[bytes], token: str) -> bytes:
    try:
        sealed = _unb64(token)
    except (ValueError, TypeError) as exc:
        raise BadToken("malformed unsubscribe token") from exc
    if len(sealed) <= 16:  # the SIV alone: no fields
        raise BadToken("malformed unsubscribe token")
    for key in keys:
        try:
            return _sealer(key).decrypt(sealed, [_SEALED_BY])
        except InvalidTag:
            continue
    raise BadToken("unsubscribe token does not verify")


def _verified(keys: Sequence[bytes], token: str) -> bytes:
    """The fields of an older signed token, once its HMAC verifies under one of `keys`."""
    try:
        payload_part, mac_part = token.split(".")
        payload, mac = _unb64(payload_part), _unb64(mac_part)
    except (ValueError, TypeError) as exc:
        raise BadToken("malformed unsubscribe token") from exc
    if not any(hmac.compare_digest(mac, _mac(key, payload)) for key in keys):
        raise BadToken("unsubscribe token does not verify")
    return payload


# -- VERP: the envelope sender's token ------------------------------------------------------------

TOKEN_PLACEHOLDER = "{token}"
# RFC 5321: a local part is at most 64 octets. Issue ids are decimal, and this many digits is
# what the length check below allows for.
MAX_LOCAL_PART = 64
_MAX_ISSUE_DIGITS = 10
_BOUNCE_MAC_BYTES = 10  # 80 bits: 16 base32 characters
BOUNCE_TOKEN_LENGTH = _MAX_ISSUE_DIGITS + 1 + 16
# what an envelope sender's local part may hold around the token: letters, digits and the few
# punctuation marks every MTA passes unquoted (no quotes, spaces or anything a shell or a
# header would need escaped)
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-_=")
_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")


def bounce_address_problem(template: str) -> str | None:
    """Why `template` cannot be an envelope sender (None: it can): one address, a local part
    of safe characters with at most one `{token}`, short enough for the longest token."""
    local, at, domain = template.rpartition("@")
    if not at or not local or not domain:
        return f"must be one email address like bounces+{{token}}@example.org, not {template!r}"
    bare = local.replace(TOKEN_PLACEHOLDER, "", 1)
    if TOKEN_PLACEHOLDER in bare or not set(bare) <= _LOCAL_CHARS or bare.startswith("."):
        return (
            f"{template!r}: before the @ only letters, digits, . + - _ = and one {{token}}"
            " may appear"
        )
    if not set(domain) <= _DOMAIN_CHARS or "." not in domain.strip("."):
        return f"{template!r}: the domain must be a host name such as example.org"
    longest = len(bare) + (BOUNCE_TOKEN_LENGTH if TOKEN_PLACEHOLDER in local else 0)
    if longest > MAX_LOCAL_PART:
        return (
            f"{template!r}: the part before the @ could reach {longest} characters with its"
            f" token; at most {MAX_LOCAL_PART} are allowed"
        )
    return None


def _bounce_mac(secret: bytes, issue_id: int, email: str) -> str:
    mac = hmac.new(
        secret, f"bounce\0{issue_id}\0{email.strip().lower()}".encode(), hashlib.sha256
    ).digest()
    # base32 in lower case: some MTAs lower-case local parts, and base32 survives that
    return base64.b32encode(mac[:_BOUNCE_MAC_BYTES]).decode().lower()


def make_bounce_token(secret: bytes, issue_id: int, email: str) -> str:
    """`ISSUE-MAC`: the issue in plain digits, and 80 bits of HMAC over the issue and the
    address, so a bounce names its recipient without carrying the address (which would not
    fit in a local part, and would publish it)."""
    return f"{issue_id}-{_bounce_mac(secret, issue_id, email)}"


def bounce_token_issue(token: str) -> int | None:
    """The issue a token's shape names (None: not one of ours); only a token equal to one made
    for a recipient of that issue proves anything."""
    issue, dash, mac = token.lower().partition("-")
    if not dash or not issue.isdigit() or len(issue) > _MAX_ISSUE_DIGITS or len(mac) != 16:
        return None
    return int(issue)


def bounce_address(template: str, token: str) -> str:
    return template.replace(TOKEN_PLACEHOLDER, token)
