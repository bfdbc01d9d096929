"""The editor's desk: shape a draft issue, approve it, and see what its send did.

An issue's life (docs/editing.md): `draft` (built, editable; its parts are re-rendered from the
current templates on every change) → `approved` (frozen: the rendered parts stored then are what
preview shows and every send mails) → `sending` → `sent`. An approved issue whose send has not
begun can be reopened to a draft; a sending or sent issue never changes.

Every function here is one editor's act over the store's public methods, used alike by
`digest issue …` and by the desk in the browser (`digest.web.desk`). A mistake (a bad position,
an unknown article, an edit to a frozen issue) is a `DigestError` and changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from digest.config import Config
from digest.desk_reasons import ranks
from digest.errors import DigestError
from digest.models import Article, Issue, IssueEntry, RunnerUp
from digest.project import Project
from digest.render import RenderedParts, render_issue
from digest.summarize import get_summarizer
from digest.summarize.base import candidates
from digest.summarize.cache import cached_summarize

DRAFT, APPROVED, SENDING, SENT = "draft", "approved", "sending", "sent"
MAX_SUBJECT_CHARS = 200
MAX_INTRO_CHARS = 20_000
MAX_TITLE_CHARS = 300
MAX_SUMMARY_CHARS = 5_000


def find_issue(project: Project, issue: int | None) -> Issue:
    """The issue by id, or the latest one."""
    store = project.store
    return store.latest_issue() if issue is None else store.issue(issue)


def default_subject(project: Project, entries: Sequence[IssueEntry]) -> str:
    """The newsletter's name and the lead story's title."""
    name = project.config.name
    return f"{name}: {entries[0].title}" if entries else name


def render_parts(project: Project, issue: Issue) -> RenderedParts:
    """The issue's parts from the project's templates as they are now, with counted story
    links when `[stats] clicks` is on (the same in every reader's copy: docs/stats.md)."""
    links = None
    if project.config.clicks:
        from digest.clicks import story_links
        from digest.keys import project_keys

        links = story_links(project_keys(project).sign, project.config.base_url, issue)
    return render_with(issue, project.config, project.template_dirs, story_links=links)


def render_with(
    issue: Issue,
    config: Config,
    template_dirs: list[Path],
    story_links: Sequence[str | None] | None = None,
) -> RenderedParts:
    return render_issue(
        issue.entries,
        config=config,
        template_dirs=template_dirs,
        subject=issue.subject,
        issued=issue.created,
        intro=issue.intro,
        key=issue.key,
        story_links=story_links,
    )


def current_parts(project: Project, issue: Issue) -> Issue:
    """What the issue mails now: a draft re-rendered with the current templates, any other
    issue as frozen."""
    if issue.status != DRAFT:
        return issue
    parts = render_parts(project, issue)
    return replace(issue, html=parts.html, text=parts.text)


# -- editing a draft ------------------------------------------------------------------------------


def _draft(project: Project, issue_id: int) -> Issue:
    issue = project.store.issue(issue_id)
    if issue.status != DRAFT:
        hint = " (`digest issue reopen` makes it a draft again)" if issue.status == APPROVED else ""
        raise DigestError(f"issue {issue.id} is {issue.status}: it can no longer be edited{hint}")
    return issue


def _save(project: Project, issue: Issue) -> Issue:
    """Re-render the changed draft and store it; the subject follows the lead story unless
    the editor chose one."""
    if not issue.subject_custom:
        issue = replace(issue, subject=default_subject(project, issue.entries))
    parts = render_parts(project, issue)  # a template error is raised before anything is stored
    saved = project.store.save_draft(
        issue.id,
        subject=issue.subject,
        subject_custom=issue.subject_custom,
        intro=issue.intro,
        entries=issue.entries,
        runners_up=issue.runners_up,
        html=parts.html,
        text=parts.text,
    )
    if not saved:  # approved or sent by another process since it was read
        return _draft(project, issue.id)
    return project.store.issue(issue.id)


def _index(issue: Issue, position: int, what: str = "position") -> int:
    if not 1 <= position <= len(issue.entries):
        raise DigestError(
            f"{what} {position}: issue {issue.id} has stories 1 to {len(issue.entries)}"
        )
    return position - 1


def drop_stories(project: Project, issue_id: int, positions: Sequence[int]) -> Issue:
    """Leave out the stories at `positions` (counted from 1); they become runners-up."""
    issue = _draft(project, issue_id)
    indexes = {_index(issue, p) for p in positions}
    if len(indexes) >= len(issue.entries):
        raise DigestError(f"issue {issue.id}: an issue needs at least one story (discard it?)")
    dropped = [e for i, e in enumerate(issue.entries) if i in indexes]
    kept = [e for i, e in enumerate(issue.entries) if i not in indexes]
    runners = [_runner_up(e) for e in dropped] + issue.runners_up
    return _save(project, replace(issue, entries=kept, runners_up=runners))


def _runner_up(entry: IssueEntry) -> RunnerUp:
    return RunnerUp(
        article_id=entry.article_id,
        title=entry.title,
        source_name=entry.source_name,
        score=entry.political_score,
        political_score=entry.political_score,
        other_sources=entry.other_sources,
        merged_ids=entry.merged_ids,
    )


def move_story(project: Project, issue_id: int, source: int, target: int) -> Issue:
    """Move the story at position `source` to position `target`."""
    issue = _draft(project, issue_id)
    start, end = _index(issue, source, "from"), _index(issue, target, "to")
    entries = list(issue.entries)
    entries.insert(end, entries.pop(start))
    return _save(project, replace(issue, entries=entries))


def resolve_article(project: Project, reference: str) -> Article:
    """A stored article by id or by URL."""
    reference = reference.strip()
    if reference.isdigit():
        return project.store.article(int(reference))
    if reference.lower().startswith(("http://", "https://")):
        article = project.store.article_by_url(reference)
        if article is None:
            raise DigestError(f"{reference}: no stored article has this URL (`digest ingest` it)")
        return article
    raise DigestError(f"{reference!r}: not an article id or an http(s) URL")


def add_story(project: Project, issue_id: int, reference: str, *, at: int | None = None) -> Issue:
    """Add a stored article (by id or URL), summarised now, at position `at` (default last)."""
    issue = _draft(project, issue_id)
    if at is not None and not 1 <= at <= len(issue.entries) + 1:
        raise DigestError(
            f"--at {at}: issue {issue.id} takes a new story at 1 to {len(issue.entries) + 1}"
        )
    article = resolve_article(project, reference)
    assert article.id is not None
    if any(e.article_id == article.id for e in issue.entries):
        position = next(i for i, e in enumerate(issue.entries, 1) if e.article_id == article.id)
        raise DigestError(f"article {article.id} is already story {position} of issue {issue.id}")
    runner = next((r for r in issue.runners_up if r.article_id == article.id), None)
    entry = new_entry(
        project,
        article,
        runner.other_sources if runner else [],
        merged_ids=runner.merged_ids if runner else [],
    )
    entries = list(issue.entries)
    entries.insert(len(entries) if at is None else at - 1, entry)
    runners = [r for r in issue.runners_up if r.article_id != article.id]
    return _save(project, replace(issue, entries=entries, runners_up=runners))


def new_entry(
    project: Project,
    article: Article,
    other_sources: list[str],
    *,
    merged_ids: list[int] | None = None,
) -> IssueEntry:
    """An issue entry for `article`, summarised with the project's settings (or read from the
    store, when the same article was summarised so before)."""
    config = project.config
    assert article.id is not None
    return IssueEntry(
        article_id=article.id,
        title=article.title,
        source_url=article.source_url,
        source_name=article.source_name,
        published=article.published,
        authors=article.authors,
        summary=cached_summarize(
            project.store,
            article.body,
            sentences=config.sentences,
            words=config.words,
            algorithm=config.algorithm,
            truncated=article.truncated,
            title=article.title,
        ),
        political_score=round(article.political_score or 0.0, 4),
        other_sources=other_sources,
        merged_ids=list(merged_ids or []),
    )


@dataclass
class Sentence:
    number: int  # from 1, as `edit --sentences` takes them
    text: str
    score: float  # the ranker's score
    chosen: bool  # in the story's summary now
    rank: int = 0  # its place in the ranker's order, from 1: what the desk shows


def article_sentences(project: Project, issue_id: int, position: int) -> list[Sentence]:
    """The sentences the story's article offers a summary, with the ranker's scores."""
    issue = project.store.issue(issue_id)
    entry = issue.entries[_index(issue, position)]
    article = project.store.article(entry.article_id)
    spans = candidates(article.body, truncated=article.truncated)
    scores = get_summarizer(project.config.algorithm).score(spans, article.title) if spans else []
    summary = set(entry.summary)
    places = ranks([float(score) for score in scores])
    return [
        Sentence(i, span.text, round(float(score), 4), chosen=span.text in summary, rank=place)
        for i, (span, score, place) in enumerate(zip(spans, scores, places, strict=True), 1)
    ]


def edit_story(
    project: Project,
    issue_id: int,
    position: int,
    *,
    title: str | None = None,
    summary: str | None = None,
    sentences: Sequence[int] | None = None,
) -> Issue:
    """Change a story's title, and its summary: free text (paragraphs split at blank lines) or
    the article's own sentences by number (`article_sentences`)."""
    issue = _draft(project, issue_id)
    index = _index(issue, position)
    entry = issue.entries[index]
    if summary is not None and sentences is not None:
        raise DigestError("give a summary text or sentence numbers, not both")
    if title is not None:
        title = " ".join(title.split())
        if not title:
            raise DigestError("--title: a story needs a title")
        if len(title) > MAX_TITLE_CHARS:
            raise DigestError(f"--title: longer than {MAX_TITLE_CHARS} characters")
        entry = replace(entry, title=title)
    if summary is not None:
        if len(summary) > MAX_SUMMARY_CHARS:
            raise DigestError(f"summary: longer than {MAX_SUMMARY_CHARS} characters")
        paragraphs = [" ".join(p.split()) for p in summary.replace("\r\n", "\n").split("\n\n")]
        entry = replace(entry, summary=[p for p in paragraphs if p])
    if sentences is not None:
        offered = article_sentences(project, issue_id, position)
        wanted = sorted(set(sentences))
        for number in wanted:
            if not 1 <= number <= len(offered):
                raise DigestError(
                    f"--sentences {number}: story {position}'s article has sentences"
                    f" 1 to {len(offered)} (`digest issue show {issue.id} --sentences {position}`)"
                )
        if not wanted:
            raise DigestError("--sentences: name at least one sentence")
        entry = replace(entry, summary=[offered[n - 1].text for n in wanted])
    entries = list(issue.entries)
    entries[index] = entry
    return _save(project, replace(issue, entries=entries))


def set_subject(project: Project, issue_id: int, subject: str | None) -> Issue:
    """The editor's subject line; None or "" goes back to the default."""
    issue = _draft(project, issue_id)
    text = " ".join((subject or "").split())  # one line: no CR/LF can reach the header
    if len(text) > MAX_SUBJECT_CHARS:
        raise DigestError(f"subject: longer than {MAX_SUBJECT_CHARS} characters")
    if not text:
        return _save(project, replace(issue, subject_custom=False))
    return _save(project, replace(issue, subject=text, subject_custom=True))


def set_intro(project: Project, issue_id: int, markdown: str) -> Issue:
    """The editor's intro, in Markdown ("" removes it)."""
    issue = _draft(project, issue_id)
    if len(markdown) > MAX_INTRO_CHARS:
        raise DigestError(f"intro: longer than {MAX_INTRO_CHARS} characters")
    return _save(project, replace(issue, intro=markdown.replace("\r\n", "\n").strip()))


# -- the lifecycle --------------------------------------------------------------------------------


def approve(project: Project, issue_id: int) -> Issue:
    """Freeze a draft: render it once more with the current templates and store those parts,
    which preview shows and every send mails from now on. Approving an approved issue is a
    no-op; a sending or sent one is refused."""
    issue = project.store.issue(issue_id)
    if issue.status == APPROVED:
        return issue
    issue = _draft(project, issue_id)
    parts = render_parts(project, issue)
    if not project.store.approve_issue(issue.id, html=parts.html, text=parts.text):
        return _draft(project, issue.id)  # says what it became meanwhile
    return project.store.issue(issue.id)


def schedule(project: Project, issue_id: int, send_at: datetime | None) -> Issue:
    """Have `digest run` send the issue at `send_at` (None: as soon as a run finds it). A
    scheduled send is the editor's approval, so a draft is approved (frozen) now."""
    issue = approve(project, issue_id)
    if issue.status != APPROVED or not project.store.schedule_issue(issue.id, send_at):
        issue = project.store.issue(issue_id)
        raise DigestError(f"issue {issue.id} is {issue.status}: its send has begun")
    return project.store.issue(issue.id)


def reopen(project: Project, issue_id: int) -> Issue:
    """An approved issue back to an editable draft (its send has not begun)."""
    issue = project.store.issue(issue_id)
    if issue.status == DRAFT:
        return issue
    if issue.status != APPROVED or not project.store.reopen_issue(issue.id):
        issue = project.store.issue(issue_id)
        raise DigestError(f"issue {issue.id} is {issue.status}: its send has begun, it stays")
    return project.store.issue(issue.id)


def discard(project: Project, issue_id: int) -> Issue:
    """Throw away a draft or an approved issue that never started sending."""
    issue = project.store.issue(issue_id)
    if not project.store.discard_issue(issue.id):
        issue = project.store.issue(issue_id)
        raise DigestError(f"issue {issue.id} is {issue.status}: its send has begun, it stays")
    return issue


# -- what the terminal and the browser show -------------------------------------------------------


def issue_summary(project: Project, issue: Issue) -> dict[str, object]:
    """One line of `digest issue list`."""
    counts = project.store.send_counts(issue.id).as_dict()
    return {
        "id": issue.id,
        "key": issue.key,
        "status": issue.status,
        "subject": issue.subject,
        "stories": len(issue.entries),
        "created": issue.created.isoformat(),
        "send_at": issue.send_at.isoformat() if issue.send_at else None,
        **{name: counts[name] for name in ("sent", "failed", "deferred")},
    }


def list_issues(project: Project) -> list[dict[str, object]]:
    return [issue_summary(project, issue) for issue in project.store.issues()]


def source_history(project: Project) -> dict[str, str]:
    """{source: how its stories were followed before}, with `[stats] clicks` on (else empty):
    "stories from this source: median 14 clicks (9 sent)" (digest.stats)."""
    if not project.config.clicks:
        return {}
    from digest.stats import source_history as history

    return history(project.store, min_count=project.config.min_count)


def issue_details(project: Project, issue: Issue) -> dict[str, object]:
    """Everything `digest issue show` prints."""
    history = source_history(project)
    return {
        **issue_summary(project, issue),
        "subject_custom": issue.subject_custom,
        "intro": issue.intro,
        "stories": [
            {
                "position": position,
                "article_id": entry.article_id,
                "title": entry.title,
                "source": entry.source_name,
                "url": entry.source_url,
                "score": entry.political_score,
                "summary": entry.summary,
                "source_history": history.get(entry.source_name),
            }
            for position, entry in enumerate(issue.entries, 1)
        ],
        "runners_up": [
            {
                "article_id": runner.article_id,
                "title": runner.title,
                "source": runner.source_name,
                "score": runner.political_score,
                **({"update_of": runner.update_of} if runner.update_of else {}),
            }
            for runner in issue.runners_up
        ],
    }


# -- after the send -------------------------------------------------------------------------------


@dataclass
class AddressOutcome:
    email: str
    list: str
    status: str
    attempts: int
    last_reply: str
    updated: str


@dataclass
class SendSummary:
    """`digest report`: what an issue's send did."""

    issue_id: int
    key: str
    status: str
    transport: str | None  # "smtp", "outbox" ... (None: not sent yet)
    relay: str | None  # where it went: the relay's URL (no password), the outbox folder
    started: datetime | None
    finished: datetime | None
    counts: dict[str, int]
    problems: list[AddressOutcome] = field(default_factory=list)
    # the issue's recipients suppressed since its send began: email, reason, detail, suppressed
    suppressed: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "issue": self.issue_id,
            "key": self.key,
            "status": self.status,
            "transport": self.transport,
            "relay": self.relay,
            "started": self.started.isoformat() if self.started else None,
            "finished": self.finished.isoformat() if self.finished else None,
            "counts": self.counts,
            "problems": [vars(p) for p in self.problems],
            "suppressed_since": self.suppressed,
        }

    def csv(self) -> str:
        """The failed and deferred addresses, each cell safe to open in a spreadsheet."""
        from digest.exports import row

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["email", "list", "status", "attempts", "last_reply", "updated"])
        for p in self.problems:
            writer.writerow(row([p.email, p.list, p.status, p.attempts, p.last_reply, p.updated]))
        return out.getvalue()


def send_summary(project: Project, issue: Issue) -> SendSummary:
    """Transport, start and finish, counts, every failed or deferred address, and the
    recipients suppressed since the send began (bounces, complaints, unsubscribes)."""
    store = project.store
    started, finished = store.issue_send_times(issue.id)
    counts = store.send_counts(issue.id).as_dict()
    suppressed = store.suppressed_recipients(issue.id, started or issue.created)
    reasons = Counter(row["reason"] for row in suppressed)
    counts["suppressed_bounced"] = reasons["bounced"]
    counts["complained_since"] = reasons["complained"]
    counts["unsubscribed_since"] = reasons["unsubscribed"]
    rows = store.send_rows(issue.id, ("failed", "deferred"))
    kind, _, relay = (store.issue_transport(issue.id) or "").partition(" ")
    return SendSummary(
        issue_id=issue.id,
        key=issue.key,
        status=issue.status,
        transport=kind or None,
        relay=relay or None,
        started=started,
        finished=finished,
        counts=counts,
        problems=[
            AddressOutcome(
                email=str(row["email"]),
                list=str(row["list"]),
                status=str(row["status"]),
                attempts=int(str(row["attempts"])),
                last_reply=str(row["last_reply"] or ""),
                updated=str(row["updated"] or ""),
            )
            for row in rows
        ],
        suppressed=suppressed,
    )
