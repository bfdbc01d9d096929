"""Signed unsubscribe tokens: HMAC-SHA256 over the subscriber's address and list.

The secret comes from DIGEST_SECRET, or is generated on first use and kept in `.digest/secret`
(mode 0600). A token cannot be altered into another subscriber's without the secret. A token may
carry an expiry time (signed with the rest); the tokens in messages carry none.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from digest.errors import DigestError


class BadToken(DigestError):
    """A token that is malformed, altered or signed with another secret."""


def load_secret(state_dir: Path, env_secret: str | None) -> bytes:
    if env_secret:
        return env_secret.encode()
    path = state_dir / "secret"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not overwrite each other's secret
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, b"unsubscribe\x00" + payload, hashlib.sha256).digest()


def make_token(
    secret: bytes, email: str, list_name: str, *, expires: datetime | None = None
) -> str:
    """A token naming `email` on `list_name`. Without `expires` it never expires: an unsubscribe
    link must keep working in an old message."""
    fields: list[str | int] = [email.lower(), list_name]
    if expires is not None:
        fields.append(int(expires.timestamp()))
    payload = json.dumps(fields, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def read_token(secret: bytes, token: str, *, now: datetime | None = None) -> tuple[str, str]:
    """(email, list) named by a genuine, unexpired token; BadToken otherwise."""
    try:
        payload_part, mac_part = token.split(".")
        payload, mac = _unb64(payload_part), _unb64(mac_part)
    except (ValueError, TypeError) as exc:
        raise BadToken("malformed unsubscribe token") from exc
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise BadToken("unsubscribe token does not verify")
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
