"""Headless Chromium adapter: render report markdown as GitHub would show it, screenshot it, check it.

Used by `mlops report-preview` (tests, and the screenshot in docs/pr-report.md). The markdown becomes
HTML with markdown-it (CommonMark + tables, HTML blocks kept, as GitHub does for <details>) and a
GitHub-like style sheet; Chromium loads it from disk with every background network feature off (the
machines here have no internet). A script in the page counts the tables and the images that really
decoded, and Chromium's `--dump-dom` hands that count back.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlops.io import InputError, write_text

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--hide-scrollbars",
    "--allow-file-access-from-files",
)
STYLE = """
body { font-family: -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; font-size: 14px;
       line-height: 1.5; color: #1f2328; max-width: 900px; margin: 24px auto; padding: 0 16px; }
table { border-collapse: collapse; margin: 8px 0 16px; display: block; overflow: auto; }
th, td { border: 1px solid #d1d9e0; padding: 6px 13px; }
tr:nth-child(2n) { background: #f6f8fa; }
code { background: #eff1f3; border-radius: 6px; padding: .2em .4em; font-size: 85%; }
h2 { border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; }
img { max-width: 100%; }
details { margin: 8px 0; }
"""
CHECK = """
<script>
window.addEventListener('load', () => {
  const images = Array.from(document.images).map(i => ({src: i.getAttribute('src'), ok: i.naturalWidth > 0}));
  const out = {tables: document.querySelectorAll('table').length, images: images};
  const pre = document.createElement('pre'); pre.id = 'render-check'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


@dataclass(frozen=True)
class RenderCheck:
    tables: int
    images: list[dict[str, object]]

    @property
    def broken_images(self) -> list[str]:
        return [str(i["src"]) for i in self.images if not i["ok"]]


def chromium() -> str:
    """The browser binary: $CHROMIUM, else the first of the usual names on PATH."""
    explicit = os.environ.get("CHROMIUM")
    found = explicit or next((p for p in map(shutil.which, CANDIDATES) if p), None)
    if not found:
        raise InputError("no Chromium found: run `make sysdeps` (installs Debian's chromium) or set CHROMIUM")
    return found


def to_html(markdown: str, title: str, check: bool = False) -> str:
    """GitHub-like HTML of a markdown report; `check` adds the script that reports what rendered."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}{CHECK if check else ''}</body></html>"
    )


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def check(html_path: Path) -> RenderCheck:
    """Load the page headless and report what rendered (tables, images decoded or not)."""
    proc = _run(["--virtual-time-budget=5000", "--dump-dom", html_path.resolve().as_uri()])
    found = re.search(r'<pre id="render-check">(.*?)</pre>', proc.stdout, flags=re.DOTALL)
    if not found:
        raise InputError(f"Chromium rendered no check output (exit {proc.returncode}): {proc.stderr[-400:]}")
    data = json.loads(html.unescape(found.group(1)))
    return RenderCheck(tables=int(data["tables"]), images=list(data["images"]))


def screenshot(html_path: Path, png: Path, width: int = 1000, height: int = 2400) -> None:
    """A PNG of the page as headless Chromium draws it (scripts given time to finish)."""
    png.parent.mkdir(parents=True, exist_ok=True)
    shot = [
        f"--window-size={width},{height}",
        "--virtual-time-budget=10000",  # let script-rendered pages (the Evidently report) finish drawing
        f"--screenshot={png.resolve()}",
        html_path.resolve().as_uri(),
    ]
    proc = _run(shot)
    if proc.returncode != 0 or not png.exists():
        raise InputError(f"Chromium screenshot failed (exit {proc.returncode}): {proc.stderr[-400:]}")


def preview(report: Path, png: Path | None) -> RenderCheck:
    """Write report.html (and report.check.html) next to the report, check it, optionally screenshot it."""
    if not report.exists():
        raise InputError(f"report not found: {report}")
    markdown = report.read_text()
    page = report.with_suffix(".html")
    probe = report.with_suffix(".check.html")
    write_text(to_html(markdown, report.name), page)
    write_text(to_html(markdown, report.name, check=True), probe)
    try:
        result = check(probe)
    finally:
        probe.unlink(missing_ok=True)
    if png is not None:
        screenshot(page, png)
    return result


def run_preview(report: Path, png: Path | None) -> int:
    """`mlops report-preview`: fail unless the report shows at least one table and every image loads."""
    result = preview(report, png)
    page = report.with_suffix(".html")
    print(f"report-preview: {result.tables} tables, {len(result.images)} images ({page})")
    if result.tables == 0 or result.broken_images:
        broken = result.broken_images
        print(f"report-preview: FAILED: tables={result.tables}, images not loaded: {broken}", file=sys.stderr)
        return 1
    return 0


def run_screenshot(html: Path, png: Path) -> int:
    """`mlops screenshot`: a PNG of any local HTML page (the drift-report picture in docs/monitoring.md)."""
    if not html.exists():
        raise InputError(f"page not found: {html}")
    screenshot(html, png, width=1200, height=1400)
    print(f"screenshot: {png}")
    return 0
