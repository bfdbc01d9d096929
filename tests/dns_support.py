"""A real DNS server on a loopback UDP port, in a thread, answering from a small zone: enough
for email-validator's deliverability check (MX, A, AAAA, TXT) without the network."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dns.message
import dns.rcode
import dns.rrset


@contextmanager
def dns_server(zone: dict[tuple[str, str], list[str]]) -> Iterator[tuple[str, int]]:
    """Serve `zone` ({(name, type): [rdata, ...]}); a name in no key is NXDOMAIN, a known name
    without the asked type an empty answer. Yields (address, port)."""
    names = {name.lower().rstrip(".") for name, _ in zone}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def answer(wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        kind = dns.rdatatype.to_text(question.rdtype)
        if name not in names:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif rdata := zone.get((name, kind)):
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", kind, rdata))
        return response.to_wire()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            sock.sendto(answer(wire), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()
