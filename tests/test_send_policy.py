"""Relay policy alone: what each kind of delivery means for the send (digest/send/policy.py)."""

from __future__ import annotations

import pytest

from digest.send.policy import Verdict, judge, reply_pattern
from digest.transports import Delivery, Envelope

ENVELOPE = Envelope("bounce@political-digest.net", "a@example.net", "<id@x>", b"")


def delivery(**fields: object) -> Delivery:
    return Delivery(ENVELOPE, **{"ok": False, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "attempts", "verdict"),
    [
        ({"ok": True, "reply": "250 queued"}, 1, Verdict.SENT),
        ({"permanent": True, "reply": "550 5.1.1 no such user"}, 1, Verdict.FAILED),
        ({"about_us": True, "reply": "450 4.7.1 slow down"}, 1, Verdict.THROTTLED),
        # a throttle is never the address's fault, however often it came
        ({"about_us": True, "reply": "450 4.7.1 slow down"}, 99, Verdict.THROTTLED),
        ({"unreachable": True, "reply": "Connection refused"}, 99, Verdict.NO_SESSION),
        ({"reply": "451 4.2.0 mailbox busy"}, 1, Verdict.RETRY),
        ({"reply": "451 4.2.0 mailbox busy"}, 12, Verdict.GIVE_UP),
        # a dropped connection says nothing about the address: never given up on
        ({"connection_lost": True, "reply": "Connection lost"}, 12, Verdict.RETRY),
    ],
)
def test_each_delivery_has_one_verdict(
    fields: dict[str, object], attempts: int, verdict: Verdict
) -> None:
    assert judge(delivery(**fields), attempts, 12) is verdict


def test_the_same_reply_to_different_addresses_is_one_pattern() -> None:
    one = reply_pattern("550 5.1.1 <A@example.net>: unknown", "a@example.net")
    other = reply_pattern("550 5.1.1 <b@example.net>: unknown", "b@example.net")
    assert one == other == "550 5.1.1 <>: unknown"
