"""DKIM that cannot be extended after signing: h= covers what a reader sees and oversigns From,
Subject, Reply-To, List-Unsubscribe and List-Unsubscribe-Post, so a header of those added on the
way (a second From, say) breaks the signature. Checked with dkimpy's verifier."""

from __future__ import annotations

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from send_support import dkim_key, make_project

from digest.dkim import DKIMSigner
from digest.message import MessageFactory
from digest.models import Subscriber
from digest.tokens import load_secret

COVERED = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
]
OVERSIGNED = [b"from", b"subject", b"reply-to", b"list-unsubscribe", b"list-unsubscribe-post"]
ADDED = [
    b"From: Someone Else <ceo@political-digest.net>",
    b"Subject: Urgent: confirm your password",
    b"Reply-To: thief@example.com",
    b"List-Unsubscribe: <https://evil.example.com/u>",
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
]


DOMAIN = b"political-digest.net"


@pytest.fixture(scope="module")
def key() -> tuple[bytes, bytes]:
    return dkim_key()


@pytest.fixture(scope="module")
def message(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One subscriber's message as the send builds it (with Reply-To and List-Unsubscribe)."""
    project = make_project(tmp_path_factory.mktemp("dkim") / "p", 1)
    issue = project.store.latest_issue()
    factory = MessageFactory(issue, project.config, load_secret(project.state_dir, None))
    data: bytes = factory.envelope(Subscriber("reader@example.net", "A Reader")).data
    project.close()
    return data


def signers(pem: bytes) -> list[DKIMSigner]:
    """dkimpy's own RSA, and the OpenSSL path the send uses."""
    loaded = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return [DKIMSigner(b"mail", DOMAIN, pem), DKIMSigner(b"mail", DOMAIN, pem, loaded)]


def verifies(data: bytes, record: bytes) -> bool:
    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"mail._domainkey." + DOMAIN + b"." else b""

    return bool(dkim.verify(data, dnsfunc=dns))


def h_tag(signed: bytes) -> list[bytes]:
    head = signed.partition(b"\r\n\r\n")[0]
    signature = head.split(b"\r\nFrom:", 1)[0].split(b"DKIM-Signature:", 1)[1]
    value = b"".join(signature.split()).split(b"h=", 1)[1].split(b";", 1)[0]
    return value.lower().split(b":")


@pytest.mark.parametrize("which", ["dkimpy", "openssl"])
def test_h_covers_what_a_reader_sees_and_oversigns_five(
    message: bytes, key: tuple[bytes, bytes], which: str
) -> None:
    pem, record = key
    signer = signers(pem)[which == "openssl"]
    signed = signer.sign(message)
    assert verifies(signed, record)
    listed = h_tag(signed)
    assert set(COVERED) <= set(listed)
    head = message.partition(b"\r\n\r\n")[0].lower()
    for name in OVERSIGNED:
        occurs = len([line for line in head.split(b"\r\n") if line.startswith(name + b":")])
        assert occurs == 1, name  # the message has each of them once
        assert listed.count(name) == occurs + 1, name


@pytest.mark.parametrize("added", ADDED, ids=lambda h: h.split(b":")[0].decode())
@pytest.mark.parametrize("which", ["dkimpy", "openssl"])
def test_a_header_added_after_signing_breaks_the_signature(
    message: bytes, key: tuple[bytes, bytes], which: str, added: bytes
) -> None:
    pem, record = key
    signed = signers(pem)[which == "openssl"].sign(message)
    assert verifies(signed, record)
    # on top, where a forwarder adds its own: a verifier reads the one at the bottom
    assert not verifies(added + b"\r\n" + signed, record)


def test_a_message_without_reply_to_still_signs_its_absence(key: tuple[bytes, bytes]) -> None:
    pem, record = key
    bare = (
        b"From: The Digest <digest@political-digest.net>\r\nTo: r@example.net\r\n"
        b"Subject: hi\r\nDate: Mon, 02 Mar 2026 09:00:00 +0000\r\nMessage-ID: <1@x>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    )
    signed = signers(pem)[1].sign(bare)
    assert verifies(signed, record)
    assert h_tag(signed).count(b"reply-to") == 1
    assert not verifies(b"Reply-To: thief@example.com\r\n" + signed, record)
