"""Bounces, complaints and mailto: unsubscribes, read from the bounce mailbox (`digest bounces`).

`sources.py` reads a Maildir, an mbox file or an IMAP mailbox behind one interface and moves
what was handled; `recognise.py` says what a message is and gathers the clues to whose it is;
`apply.py` finds the subscriber and suppresses or counts.
"""

from digest.bounces.apply import BounceReport, process_bounces, process_source
from digest.bounces.source_api import BounceSourceError, BounceSourceUnavailable
from digest.bounces.sources import open_source

__all__ = [
    "BounceReport",
    "BounceSourceError",
    "BounceSourceUnavailable",
    "open_source",
    "process_bounces",
    "process_source",
]
