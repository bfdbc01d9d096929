"""Relay policy alone: what each kind of delivery means for the send (digest/send/policy.py)."""

from __future__ import annotations

import pytest

from digest.send.policy import Verdict, asked_delay, judge, reply_pattern
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


@pytest.mark.parametrize(
    "reply",
    [
        "450 4.2.0 <a@example.net>: Recipient address rejected: Greylisted, see"
        " http://postgrey.schweikert.ch/help/example.net.html",
        "451 4.7.1 Greylisting in action, please come back later",
        "451 Greylisted, try again in 5 minutes",
        "451 4.7.1 <a@example.net>: Recipient address rejected: Greylisted, come back later",
    ],
)
def test_greylisting_is_recognised_whatever_the_code(reply: str) -> None:
    # a 4.7.1 reads as about us (policy), but greylisting is neither us nor the address
    greylisted = delivery(reply=reply, about_us=reply.startswith("451 4.7"))
    assert judge(greylisted, 1, 12) is Verdict.GREYLISTED
    # greylisted again after its greylisting retry: an ordinary deferral of the address
    assert judge(greylisted, 2, 12, greylisted_before=True) is Verdict.RETRY


def test_a_throttle_is_not_greylisting() -> None:
    throttle = delivery(reply="450 4.7.1 too much mail from 127.0.0.1, slow down", about_us=True)
    assert judge(throttle, 1, 12) is Verdict.THROTTLED


@pytest.mark.parametrize(
    ("reply", "seconds"),
    [
        ("421 4.7.0 Try again in 30 seconds", 30.0),
        ("450 4.7.1 rate limit exceeded, retry after 2 minutes", 120.0),
        ("451 4.7.1 please wait 90s", 90.0),
        ("450 4.7.1 too much mail, slow down", None),
    ],
)
def test_the_wait_a_relay_asks_for(reply: str, seconds: float | None) -> None:
    assert asked_delay(reply) == seconds
