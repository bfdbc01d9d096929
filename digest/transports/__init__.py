"""Transports, chosen by configuration: outbox (default), smtp, memory."""

from __future__ import annotations

from digest.transports.base import Delivery, Envelope, Transport, TransportSetupError
from digest.transports.memory import MemoryTransport
from digest.transports.outbox import OutboxTransport
from digest.transports.smtp import SMTPTransport

__all__ = [
    "Delivery",
    "Envelope",
    "MemoryTransport",
    "OutboxTransport",
    "SMTPTransport",
    "Transport",
    "TransportSetupError",
]
