"""Optional DKIM signing (dkimpy) of finished messages, when `transport.dkim_key_file` and
`transport.dkim_selector` are configured. The signing domain is the From address's domain."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

import dkim

from digest.config import Config
from digest.errors import ConfigError

# what a receiver checks; List-Unsubscribe(-Post) are signed as Gmail and Yahoo require
SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"MIME-Version",
    b"Content-Type",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
)


@dataclass(frozen=True)
class DKIMSigner:
    selector: bytes
    domain: bytes
    private_key: bytes

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header in front."""
        signature = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.private_key,
            include_headers=list(SIGNED_HEADERS),
        )
        return signature + message


def signer_from_config(config: Config) -> DKIMSigner | None:
    """A signer when both settings are present; None when neither is; ConfigError otherwise."""
    if not config.dkim_key_file and not config.dkim_selector:
        return None
    if not (config.dkim_key_file and config.dkim_selector):
        raise ConfigError(
            f"{config.path}: `transport.dkim_selector` and `transport.dkim_key_file` go together"
        )
    key_path = Path(config.dkim_key_file)
    if not key_path.is_absolute():
        key_path = config.path.parent / key_path
    try:
        key = key_path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{config.path}: `transport.dkim_key_file` {key_path}: {exc.strerror}"
        ) from None
    domain = parseaddr(config.from_address)[1].rpartition("@")[2]
    signer = DKIMSigner(config.dkim_selector.encode(), domain.encode(), key)
    try:
        signer.sign(b"From: a@" + domain.encode() + b"\r\nSubject: t\r\n\r\nt\r\n")
    except dkim.DKIMException as exc:
        raise ConfigError(f"{config.path}: `transport.dkim_key_file` {key_path}: {exc}") from None
    return signer
