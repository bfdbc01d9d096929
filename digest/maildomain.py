"""Does an address's domain take mail? The web sign-up's check (`subscribers.check_dns`), on the
event loop: dnspython's asynchronous resolver, one deadline for all of a domain's lookups, so a
slow or silent resolver holds no worker thread (the store's requests need those) and delays a
sign-up by at most DNS_TIMEOUT seconds.

The rules are email-validator's deliverability check: an MX other than RFC 7505's null MX, or
else a globally reachable A or AAAA address and no SPF reject-all (`v=spf1 -all`). A domain that
does not exist, or takes no mail, is refused; a lookup that fails or runs out of time refuses
nobody.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Any

from digest.config import Config, dns_server_address
from digest.errors import DigestError

DNS_TIMEOUT = 5.0
_CACHE_SECONDS = 300.0


class _Refused(Exception):
    """The domain does not exist or takes no mail: the reason, as a person reads it."""


class DomainChecker:
    """Checks domains through one asynchronous resolver, remembering answers for a while."""

    def __init__(self, resolver: Any, timeout: float = DNS_TIMEOUT) -> None:
        self.resolver = resolver
        self.timeout = timeout
        self._seen: dict[str, tuple[float, str | None]] = {}

    async def problem(self, domain: str) -> str | None:
        """Why `domain` cannot receive mail, or None (it can, or nobody could tell in time)."""
        domain = domain.lower().rstrip(".")
        seen = self._seen.get(domain)
        if seen is not None and seen[0] > time.monotonic():
            return seen[1]
        try:
            await asyncio.wait_for(self._check(domain), self.timeout)
            problem = None
        except _Refused as refused:
            problem = str(refused)
        except Exception:  # noqa: BLE001 - a timeout, a broken answer: nobody is refused for it
            return None
        self._seen[domain] = (time.monotonic() + _CACHE_SECONDS, problem)
        return problem

    async def _check(self, domain: str) -> None:
        import dns.resolver

        try:
            try:
                mx = await self.resolver.resolve(domain, "MX")
            except dns.resolver.NoAnswer:
                await self._without_mx(domain)
                return
            if all(str(record.exchange) == "." for record in mx):
                raise _Refused(f"The domain name {domain} does not accept email.")
        except dns.resolver.NXDOMAIN:
            raise _Refused(f"The domain name {domain} does not exist.") from None

    async def _without_mx(self, domain: str) -> None:
        """No MX: mail goes to the domain's own address (RFC 5321), if it has a public one and
        does not declare that it sends no mail."""
        import dns.resolver

        for kind in ("A", "AAAA"):
            try:
                answer = await self.resolver.resolve(domain, kind)
            except dns.resolver.NoAnswer:
                continue
            if any(_is_global(record.address) for record in answer):
                break
        else:
            raise _Refused(f"The domain name {domain} does not accept email.")
        try:
            texts = await self.resolver.resolve(domain, "TXT")
        except dns.resolver.NoAnswer:
            return
        if any(b"".join(record.strings) == b"v=spf1 -all" for record in texts):
            raise _Refused(f"The domain name {domain} does not send email.")


def _is_global(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


def domain_checker(config: Config) -> DomainChecker | None:
    """The checker web sign-ups use (`subscribers.check_dns`), through the system's resolver or
    `subscribers.dns_server`; None when the check is off."""
    if not config.check_dns:
        return None
    # dnspython is slow to import: only a project that checks pays for it
    from dns.asyncresolver import Resolver
    from dns.exception import DNSException

    try:
        resolver = Resolver(configure=not config.dns_server)
    except DNSException as exc:  # no /etc/resolv.conf, say
        raise DigestError(
            f"subscribers.check_dns: no system resolver to use ({exc}); set subscribers.dns_server"
        ) from None
    server = dns_server_address(config.dns_server) if config.dns_server else None
    if server is not None:
        resolver.nameservers = [server[0]]
        resolver.port = server[1]
    resolver.lifetime = DNS_TIMEOUT
    return DomainChecker(resolver, DNS_TIMEOUT)
