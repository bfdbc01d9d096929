"""Fingerprints of the secrets that have signed links (digest.keys): a link in a message already
sent stays valid only while its secret still verifies, so a secret that signed once is
remembered until the operator retires it."""

from __future__ import annotations

from digest.store.database import Database
from digest.store.timeutil import now_utc


class SigningKeys:
    db: Database

    def signing_fingerprints(self) -> dict[str, str]:
        """{fingerprint: first used} of every secret that signed and is not retired."""
        return {
            str(row[0]): str(row[1])
            for row in self.db.all(
                "SELECT fingerprint, first_used FROM signing_keys WHERE retired IS NULL"
                " ORDER BY first_used"
            )
        }

    def record_signing_fingerprint(self, fingerprint: str) -> None:
        """Remember that the secret of `fingerprint` signs links (again, if it was retired)."""
        self.db.execute(
            """INSERT INTO signing_keys (fingerprint, first_used) VALUES (?, ?)
               ON CONFLICT (fingerprint) DO UPDATE SET retired = NULL""",
            (fingerprint, now_utc().isoformat()),
        )

    def retire_signing_fingerprints(self, fingerprints: list[str]) -> int:
        """Give up the links signed by these secrets; how many were still remembered."""
        now = now_utc().isoformat()
        return sum(
            int(
                self.db.execute(
                    "UPDATE signing_keys SET retired = ? WHERE fingerprint = ? AND retired IS NULL",
                    (now, fingerprint),
                ).rowcount
            )
            for fingerprint in fingerprints
        )
