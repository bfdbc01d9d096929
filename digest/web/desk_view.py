"""The desk's views (`digest.web.desk` serves them): one issue as it mails now (`Preview`), the
editor's desk page, and the one change a desk form asks for.

A draft is re-rendered with the project's *current* templates on every request, so an editor sees
a template change as soon as the page reloads (the pages poll `/version`, a fingerprint of the
template files, and reload when it changes). An approved, sending or sent issue shows its frozen
parts: exactly what is mailed (docs/editing.md).
"""

from __future__ import annotations

import hashlib
import html as html_lib
from dataclasses import dataclass, replace
from pathlib import Path

import jinja2

from digest import desk
from digest.config import Config
from digest.desk_reasons import why_story
from digest.errors import DigestError
from digest.models import Issue
from digest.project import open_project
from digest.render import fill_placeholders, generic_values, web_version

_RELOAD_SCRIPT = """<script>
(function () {
  var seen = null;
  function poll() {
    fetch("/version", {cache: "no-store"}).then(function (r) { return r.text(); })
      .then(function (v) { if (seen !== null && v !== seen) { location.reload(); } seen = v; })
      .catch(function () {}).finally(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
</script>"""


@dataclass
class Preview:
    """One issue as it mails now: a draft rendered with the templates in `template_dirs` right
    now, any other issue as frozen. With `root` (the project folder) the issue is read afresh
    from the store on every request, so the desk's changes show at once."""

    issue: Issue
    config: Config
    template_dirs: list[Path]
    root: Path | None = None

    def current(self) -> Issue:
        if self.root is None:
            return self.issue
        project = open_project(self.root)
        try:
            self.issue = project.store.issue(self.issue.id)
        finally:
            project.close()
        return self.issue

    def fresh_issue(self) -> Issue:
        issue = self.current()
        if issue.status != desk.DRAFT:
            return issue
        parts = desk.render_with(issue, self.config, self.template_dirs)
        return replace(issue, html=parts.html, text=parts.text)

    def html(self) -> str:
        return web_version(self.fresh_issue())

    def mail(self) -> str:
        """The HTML part as a reader gets it, with nobody's personal values."""
        issue = self.fresh_issue()
        return fill_placeholders(issue.html, generic_values(issue), escape_html=True)

    def text(self) -> str:
        issue = self.fresh_issue()
        return fill_placeholders(issue.text, generic_values(issue), escape_html=False)

    def templates_version(self) -> str:
        """Changes whenever a template file is added, removed or edited."""
        digest = hashlib.sha256()
        for folder in self.template_dirs:
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    stat = path.stat()
                    digest.update(f"{path}\0{stat.st_mtime_ns}\0{stat.st_size}\n".encode())
        return digest.hexdigest()[:16]


_DESK_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_DESK_ENV.filters["why"] = why_story
_DESK_PAGE = _DESK_ENV.get_template("desk_page.html")


SEARCH_RESULTS = 20  # stored articles the desk's search lists


def desk_page(
    preview: Preview,
    csrf: str,
    flash: tuple[str, bool] | None,
    anchor: str = "",
    search: str = "",
) -> str:
    """The editor's desk for the issue: controls for a draft, state and report otherwise;
    `search` finds stored articles to add (`digest articles` in the browser)."""
    assert preview.root is not None
    project = open_project(preview.root)
    try:
        issue = project.store.issue(preview.issue.id)
        draft = issue.status == desk.DRAFT
        search = " ".join(search.split())[:200]
        found = (
            project.store.find_articles(text=search, limit=SEARCH_RESULTS)
            if draft and search
            else []
        )
        stories = []
        history = desk.source_history(project) if draft else {}
        for position, entry in enumerate(issue.entries, 1):
            try:
                offered = desk.article_sentences(project, issue.id, position) if draft else []
            except DigestError:  # the article left the store: free text still works
                offered = []
            past = history.get(entry.source_name, "")
            stories.append({"entry": entry, "sentences": offered, "history": past})
        report = (
            desk.send_summary(project, issue) if issue.status in (desk.SENDING, desk.SENT) else None
        )
        return _DESK_PAGE.render(
            issue=issue,
            name=project.config.name,
            draft=draft,
            stories=stories,
            report=report,
            csrf=csrf,
            flash=flash[0] if flash else "",
            flash_error=bool(flash and flash[1]),
            anchor=anchor,
            search=search,
            found=found,
            taken={entry.article_id for entry in issue.entries},
        )
    finally:
        project.close()


def _number(form: dict[str, list[str]], name: str) -> int:
    value = (form.get(name) or [""])[0]
    if not value.isdigit():
        raise DigestError(f"{name} {value!r}: not a number")
    return int(value)


def _field(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def apply_change(preview: Preview, form: dict[str, list[str]]) -> tuple[str, str]:
    """Make the one change a desk form asks for; (what was done, where the page goes back)."""
    from digest.send import send_test_copy

    assert preview.root is not None
    issue_id = preview.issue.id
    action = _field(form, "action")
    project = open_project(preview.root)
    try:
        if action in ("drop", "up", "down"):
            position = _number(form, "position")
            if action == "drop":
                desk.drop_stories(project, issue_id, [position])
                return f"Dropped story {position}.", "#h-stories"
            target = position - 1 if action == "up" else position + 1
            desk.move_story(project, issue_id, position, target)
            return f"Moved story {position} to {target}.", f"#story-{target}"
        if action == "edit":
            position = _number(form, "position")
            desk.edit_story(
                project,
                issue_id,
                position,
                title=_field(form, "title"),
                summary=_field(form, "summary"),
            )
            return f"Saved story {position}.", f"#story-{position}"
        if action == "sentences":
            position = _number(form, "position")
            numbers = [int(n) for n in form.get("sentence", []) if n.isdigit()]
            if not numbers:
                raise DigestError(f"story {position}: tick at least one sentence")
            desk.edit_story(project, issue_id, position, sentences=numbers)
            return f"Story {position} now uses sentences {', '.join(map(str, numbers))}.", (
                f"#story-{position}"
            )
        if action == "add":
            issue = desk.add_story(project, issue_id, _field(form, "article"))
            return f"Added story {len(issue.entries)}.", f"#story-{len(issue.entries)}"
        if action == "subject":
            issue = desk.set_subject(project, issue_id, _field(form, "subject"))
            return f"Subject: {issue.subject}", "#subject"
        if action == "intro":
            issue = desk.set_intro(project, issue_id, _field(form, "intro"))
            return ("Intro saved." if issue.intro else "Intro removed."), "#intro"
        if action == "test":
            copy = send_test_copy(project, issue_id, _field(form, "address"))
            if not copy.delivery.ok:
                raise DigestError(copy.said())
            return copy.said(), "#h-test"
        if action == "approve":
            desk.approve(project, issue_id)
            return f"Issue {issue_id} approved: frozen as shown.", "#h-state"
        if action == "reopen":
            desk.reopen(project, issue_id)
            return f"Issue {issue_id} is a draft again.", "#h-state"
        raise DigestError(f"unknown change {action!r}")
    finally:
        project.close()


def error_page(message: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Template error</title>'
        '</head><body style="font-family: sans-serif; padding: 2em;"><h1>Template error</h1>'
        f"<pre>{html_lib.escape(message)}</pre>"
        "<p>Fix the template and this page reloads.</p></body></html>"
    )


def with_reload_script(html: str) -> str:
    index = html.lower().rfind("</body>")
    return html[:index] + _RELOAD_SCRIPT + html[index:] if index >= 0 else html + _RELOAD_SCRIPT
