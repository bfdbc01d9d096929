"""Story links that count, without watching any reader (docs/stats.md).

With `[stats] clicks = true` each story link of an issue becomes `{base_url}/r/{issue}/{story}/
{mac}`: the same in every reader's copy (rendered once per issue, never per subscriber), with a
MAC over the issue, the story's number and its target URL under the project's signing secret.
`digest serve` answers a link whose MAC matches a story of that issue with a redirect to the
story and adds one to that (issue, story) count; anything else is a 404 that redirects nowhere,
so the server is never an open redirect. Nothing about the reader is stored: the user agent
decides only whether the follow is counted or set aside as a link scanner's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence

from digest.models import Issue
from digest.render import safe_url

MAC_BYTES = 16  # 128 bits: a forgery is a guess in 2**128

# Mail-security gateways and link-preview fetchers follow links before (or instead of) the
# reader: Microsoft Safe Links, Proofpoint URL Defense, Mimecast, Barracuda, and anything that
# calls itself a bot, crawler, spider or preview. An empty user agent is no browser either.
SCANNER_RE = re.compile(
    r"safelinks|safe links|microsoft office|ms-office|proofpoint|urldefense|ppops|mimecast"
    r"|barracuda|bot\b|bot[_-]|crawl|spider|preview|scanner|headless"
    r"|facebookexternalhit|slackbot|linkexpanding|python-requests|python-urllib|python-httpx|aiohttp|go-http-client"
    r"|curl/|wget/|libwww|okhttp|java/",
    re.IGNORECASE,
)


def is_scanner(user_agent: str) -> bool:
    """Whether a request with this User-Agent is a link scanner's, not a reader's."""
    return not user_agent.strip() or SCANNER_RE.search(user_agent) is not None


def story_target(issue: Issue, story: int) -> str | None:
    """The URL story `story` (1-based) of `issue` links to, vetted as the templates vet it."""
    if not 0 < story <= len(issue.entries):
        return None
    return safe_url(issue.entries[story - 1].source_url)


def link_mac(secret: bytes, issue_id: int, story: int, target: str) -> str:
    message = f"digest story link\0{issue_id}\0{story}\0{target}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def story_links(secret: bytes, base_url: str, issue: Issue) -> list[str | None]:
    """The counting link of each story of `issue` (None for a story without a URL)."""
    base = base_url.rstrip("/")
    links: list[str | None] = []
    for story in range(1, len(issue.entries) + 1):
        target = story_target(issue, story)
        mac = link_mac(secret, issue.id, story, target) if target else ""
        links.append(f"{base}/r/{issue.id}/{story}/{mac}" if target else None)
    return links


def verified_target(secrets: Sequence[bytes], issue: Issue, story: int, mac: str) -> str | None:
    """The story's URL when `mac` is the link's under one of `secrets`, else None."""
    target = story_target(issue, story)
    if target is None:
        return None
    for secret in secrets:
        if hmac.compare_digest(link_mac(secret, issue.id, story, target), mac):
            return target
    return None
