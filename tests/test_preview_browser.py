"""`digest preview`: the CLI, and the served page driven in Debian's headless Chromium at phone and
desktop widths (no horizontal overflow, every title visible, reload on a template change).

Screenshots go to tmp_path, or to DIGEST_SCREENSHOT_DIR when set.
"""

from __future__ import annotations

import http.client
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samples import sample_entries
from typer.testing import CliRunner

from digest.cli import app
from digest.project import Project, init_project
from digest.render import render_issue
from digest.web.desk_server import PreviewServer
from digest.web.desk_view import Preview

FIXTURES = Path(__file__).parent / "fixtures" / "email"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A fresh project (its own copy of the templates) holding the sample issue."""
    project = init_project(tmp_path / "newsletter")
    subject, entries = sample_entries()
    for entry in entries:
        project.store.db.execute(
            "INSERT INTO articles (id, body_hash, title, body, added) VALUES (?, ?, ?, '', '')",
            (entry.article_id, f"hash{entry.article_id}", entry.title),
        )
    parts = render_issue(
        entries, config=project.config, template_dirs=project.template_dirs, subject=subject
    )
    project.store.create_issue(
        key="2026-W48", subject=subject, entries=entries, html=parts.html, text=parts.text
    )
    yield project
    project.close()


def test_preview_out_writes_the_web_version(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "preview.html"
    result = CliRunner().invoke(app, ["--project", str(project.root), "preview", "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    _, entries = sample_entries()
    for entry in entries:
        assert entry.title in page
    assert "@@digest:" not in page and "token=" not in page


def test_preview_of_a_missing_issue_is_one_clear_line(project: Project) -> None:
    result = CliRunner().invoke(app, ["--project", str(project.root), "preview", "42", "--no-open"])
    assert result.exit_code == 2
    assert "issue 42: no such issue" in result.output
    assert "Traceback" not in result.output


def test_preview_serves_html_text_and_template_version(project: Project) -> None:
    issue = project.store.latest_issue()
    server = PreviewServer(Preview(issue, project.config, project.template_dirs), port=0)
    server.start_in_thread()
    try:
        with urllib.request.urlopen(server.link("text")) as response:
            text = response.read().decode()
        assert text.startswith("The Political Digest\n")
        assert "Unsubscribe: /unsubscribe" in text
        with urllib.request.urlopen(server.link("version")) as response:
            before = response.read()
        (project.root / "templates" / "digest.txt").write_text("changed {{ subject }}\n")
        with urllib.request.urlopen(server.link("version")) as response:
            assert response.read() != before
        with urllib.request.urlopen(server.link("text")) as response:
            assert response.read().decode() == f"changed {issue.subject}\n"
    finally:
        server.shutdown()
        server.server_close()


def test_preview_answers_only_its_own_loopback_host(project: Project) -> None:
    """A page at evil.example whose name is rebound to 127.0.0.1 must not read the issue."""
    issue = project.store.latest_issue()
    server = PreviewServer(Preview(issue, project.config, project.template_dirs), port=0)
    server.start_in_thread()
    port = server.server_address[1]

    def get(host: str) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", f"/text?token={server.token}", headers={"Host": host})
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    try:
        for foreign in (f"evil.example:{port}", "127.0.0.1", f"127.0.0.1.nip.io:{port}"):
            status, body = get(foreign)
            assert (status, body) == (421, f"This preview answers only at {server.url}\n")
        for own in (f"127.0.0.1:{port}", f"localhost:{port}"):
            assert get(own) == (200, server.preview.text())
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("width", [375, 1024])
def test_preview_fits_the_screen_in_chromium(
    project: Project, chromium: Any, tmp_path: Path, width: int
) -> None:
    issue = project.store.latest_issue()
    server = PreviewServer(Preview(issue, project.config, project.template_dirs), port=0)
    server.start_in_thread()
    shots = Path(os.environ.get("DIGEST_SCREENSHOT_DIR") or tmp_path)
    with chromium() as browser:
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(server.link())
            overflow = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.body.scrollWidth,"
                " window.innerWidth]"
            )
            assert max(overflow[:2]) <= overflow[2], f"horizontal overflow at {width}px: {overflow}"

            headings = page.locator("h2")
            assert headings.count() == len(issue.entries)
            for index, entry in enumerate(issue.entries):
                heading = headings.nth(index)
                heading.scroll_into_view_if_needed()
                assert heading.is_visible()
                assert " ".join(heading.inner_text().split()) == entry.title
                box = heading.bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
                assert box["height"] > 0
            # the greeting is generic and no unsubscribe token leaks into the web copy
            assert "Hello," in page.inner_text("body")

            page.screenshot(path=str(shots / f"screenshot-{width}.png"), full_page=True)
            assert (shots / f"screenshot-{width}.png").stat().st_size > 10_000

            # an edited template shows up without touching the browser: the page reloads itself
            story = project.root / "templates" / "_story.html"
            story.write_text(story.read_text().replace("Read the full story", "Continue reading"))
            page.wait_for_function(
                "() => document.body.innerText.includes('Continue reading')", timeout=15_000
            )
        finally:
            server.shutdown()
            server.server_close()


# Each visible text's colour against the first opaque background behind it, from the computed
# styles, with the WCAG 2 relative luminance and contrast ratio.
CONTRASTS_JS = """() => {
  const rgba = (text) => {
    const parts = text.match(/[\\d.]+/g).map(Number);
    return {r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1};
  };
  const channel = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const behind = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const colour = getComputedStyle(e).backgroundColor;
      if (rgba(colour).a > 0) return colour;
    }
    return "rgb(255, 255, 255)";
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const done = new Set();
  while (walker.nextNode()) {
    const element = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || done.has(element)) continue;
    done.add(element);
    const style = getComputedStyle(element);
    if (!element.getClientRects().length || style.visibility === "hidden") continue;
    const background = behind(element);
    const [light, dark] = [luminance(rgba(style.color)), luminance(rgba(background))]
      .sort((x, y) => y - x);
    found.push({text: element.textContent.trim().slice(0, 50), colour: style.color,
                background, ratio: (light + 0.05) / (dark + 0.05)});
  }
  return found;
}"""


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_colour_meets_wcag_aa_in_both_schemes(
    project: Project, chromium: Any, scheme: str
) -> None:
    """The email as a mail client shows it (greeting link and footer included) and the web
    version, with prefers-color-scheme emulated: every visible text at least 4.5:1."""
    from digest.render import fill_placeholders, generic_values, web_version

    issue = project.store.latest_issue()
    email = fill_placeholders(
        issue.html, generic_values(issue, "https://news.example.org"), escape_html=True
    )
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 600, "height": 900})
        page.emulate_media(color_scheme=scheme)
        for version, html in (("email", email), ("web", web_version(issue))):
            page.set_content(html)
            texts = page.evaluate(CONTRASTS_JS)
            assert any("Read this issue in your browser" in t["text"] for t in texts) == (
                version == "email"
            )
            assert len(texts) > 10
            poor = [t for t in texts if t["ratio"] < 4.5]
            assert not poor, f"{version}, {scheme} scheme: below 4.5:1: {poor}"


@pytest.mark.browser
def test_text_version_in_chromium(project: Project, chromium: Any) -> None:
    issue = project.store.latest_issue()
    server = PreviewServer(Preview(issue, project.config, project.template_dirs), port=0)
    server.start_in_thread()
    with chromium() as browser:
        try:
            page = browser.new_page(viewport={"width": 375, "height": 900})
            page.goto(server.link("text"))
            body = page.inner_text("body")
            for entry in issue.entries:
                assert entry.title.split()[0] in body
            assert "Read more: " + (issue.entries[0].source_url or "") in body
        finally:
            server.shutdown()
            server.server_close()


def test_default_templates_are_what_init_copies(project: Project) -> None:
    from digest.project import data_path

    packaged = sorted(p.name for p in data_path("templates").iterdir())
    copied = sorted(p.name for p in (project.root / "templates").iterdir())
    assert packaged == copied and "digest.html" in packaged and "digest.txt" in packaged
