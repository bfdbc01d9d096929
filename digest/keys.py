"""The project's signing keys: which secret signs links, which verify them, and a guard that
stops a change of secret from silently breaking the links in every message already sent.

The store keeps a fingerprint (an HMAC of a fixed text under the secret: it reveals nothing of
the secret) of every secret that has signed. When a remembered one is no longer among the
verifying secrets (DIGEST_SECRET, DIGEST_SECRET_PREVIOUS, and `.digest/secret` once
DIGEST_SECRET replaces it), nothing signs or verifies until the operator chooses: put the old
secret in DIGEST_SECRET_PREVIOUS, or `digest secret retire` it and let its links stop working.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from digest.errors import ConfigError
from digest.project import Project
from digest.store import Store
from digest.tokens import load_verification_secrets

FINGERPRINT_CHARS = 16


def fingerprint(secret: bytes) -> str:
    return hmac.new(secret, b"digest signing-secret fingerprint", hashlib.sha256).hexdigest()[
        :FINGERPRINT_CHARS
    ]


@dataclass(frozen=True)
class Keys:
    sign: bytes
    verify: list[bytes]


def forgotten_secrets(store: Store, verify: list[bytes]) -> dict[str, str]:
    """{fingerprint: first used} of the secrets that signed links and verify no more."""
    present = {fingerprint(secret) for secret in verify}
    return {fp: used for fp, used in store.signing_fingerprints().items() if fp not in present}


def project_keys(project: Project, store: Store | None = None) -> Keys:
    """The keys to sign and verify with; a ConfigError, naming the choice, when a secret that
    signed links already sent no longer verifies. Records the signing secret's fingerprint."""
    project.check_shared_secret()
    config = project.config
    verify = load_verification_secrets(project.state_dir, config.secret, config.previous_secrets)
    store = store or project.store
    forgotten = forgotten_secrets(store, verify)
    if forgotten:
        fp, used = next(iter(forgotten.items()))
        raise ConfigError(
            "the signing secret changed: links in messages already sent were signed with "
            f"another secret (fingerprint {fp}, signing since {used[:10]}), which neither "
            "DIGEST_SECRET nor DIGEST_SECRET_PREVIOUS holds, so those links would stop working. "
            "Add the old secret to DIGEST_SECRET_PREVIOUS, or run `digest secret retire "
            f"{fp}` to let them stop working"
        )
    signing = fingerprint(verify[0])
    if signing not in store.signing_fingerprints():
        store.record_signing_fingerprint(signing)
    return Keys(verify[0], verify)
