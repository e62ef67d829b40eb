"""`mlops pr-target`: check the report artifact a pull request's run uploaded, then stage it for CML.

The pr-comment workflow runs with a write token on the default branch, and the artifact was produced by
pull-request code (possibly a fork's): it is untrusted data. Only a report and PNG images are accepted,
within size limits, and the pull-request number must be the open pull request of the run's head commit (no
such pull request: the report is for an outdated commit, and nothing is posted). CML 0.20 uploads to a
public host EVERY local file that a markdown image, link or link reference definition names (src/cml.js
publishLocalFiles, v0.20.6), so report.md is parsed as CommonMark and each destination must be an https://
URL, or (images and definitions only) one of the artifact's own PNGs. The staging step then copies report.md
and only the PNGs it shows into a fresh folder, where CML runs; how images travel (CML's public host, a
self-hosted one, or not at all) is the repository's choice (`image_mode`).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline import image as image_rule
from markdown_it.token import Token

from mlops.io import InputError

ALLOWED = re.compile(r"^(report\.md|meta\.json|[a-z0-9][a-z0-9-]{0,63}\.png)$")
MAX_REPORT_BYTES = 60_000  # GitHub rejects comment bodies over 65,536 characters
MAX_FILE_BYTES = 5_000_000

# markdown-it stops parsing at this depth (the rest of the block or paragraph becomes plain text) while
# CML's parser (remark 13) has no limit: a link nested deeper would reach CML unchecked (measured: a
# destination inside 21 nested blockquotes or 21 nested brackets vanishes). Such reports are refused.
MAX_NESTING = 20  # markdown-it's CommonMark preset
MAX_BRACKETS = 8  # label parsing recurses once per "[" (and a link adds a level): far below MAX_NESTING

# The report's own raw HTML: folds (<details><summary>) and <code> in a summary, plus comments. Without
# attributes a tag names no URL or file; every other tag (and any attribute: src, href, style) is refused.
HTML_OK = re.compile(r"</?(details|summary|code)>", re.IGNORECASE)
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
HTML_TAG = re.compile(r"<[A-Za-z/!?]")
# https:// and a host name. Any "." or ".." segment anywhere (query included) is refused: CML resolves every
# URL as a path first (path.resolve(folder, url): "https://x/../../a" is <folder>/../a), and only a URL
# without them is bound to resolve under <folder>/https:/, which the staging folder does not hold.
HTTPS = re.compile(r"https://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?([/?#]|$)")
SELF_HOSTED = re.compile(r"https://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?(/[^\s\"'`$\\]*)?")
RUN_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/actions/runs/[0-9]+")
# Where CommonMark puts a destination: right after "](" (inline link, image), "]:" (definition), or between
# "<" and ">" after a scheme (autolink); up to one line ending may come before it.
DESTINATION_MARK = re.compile(r"\]\(|\]:")
SPACE_TO_DESTINATION = re.compile(r"[ \t]*(\r?\n[ \t]*)?")
AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9.+-]{1,31}:[^\x00-\x20<>]*)>")
PUBLIC_HOST = "https://asset.cml.dev"  # CML 0.20.6's default --publish-url (bin/cml/comment/create.js:57)
MODES_HELP = "public, none or url:https://<asset host>"


@dataclass(frozen=True)
class Item:
    """One thing in report.md that could name a file or URL: a destination, or a piece of raw HTML."""

    line: int
    kind: Literal["link", "autolink", "image", "definition", "html"]
    value: str


class _Verbatim(MarkdownIt):
    """CommonMark that keeps every destination as written (escapes and entities decoded, as remark does).

    By default markdown-it drops a link whose URL it deems unsafe (file:, javascript:, most data:) and
    leaves its text; remark keeps it as a link that CML resolves, so the check must see it.
    """

    def validateLink(self, url: str) -> bool:  # noqa: N802 (markdown-it's method name)
        return True

    def normalizeLink(self, url: str) -> str:  # noqa: N802 (markdown-it's method name)
        return url


@cache
def _parser() -> MarkdownIt:
    md = _Verbatim("commonmark", {"maxNesting": MAX_NESTING})
    md.inline.ruler.at("image", _recorded_image)
    return md


def _recorded_image(state: StateInline, silent: bool) -> bool:
    """markdown-it's image rule, also recording each image's source text (for the `none` rewrite)."""
    start = state.pos
    if not image_rule(state, silent):
        return False
    if not silent:
        state.env.setdefault("image_sources", []).append((state.src[start : state.pos], state.tokens[-1]))
    return True


def _parse(report: str) -> tuple[list[Token], dict[str, Any]]:
    env: dict[str, Any] = {}
    return _parser().parse(report, env), env


def _inline_items(children: Sequence[Token], line: int) -> Iterator[Item]:
    """Links, autolinks, images and inline HTML of one block; `line` is the block's first line."""
    for tok in children:
        if tok.type == "link_open":
            yield Item(line, "autolink" if tok.markup == "autolink" else "link", str(tok.attrs.get("href")))
        elif tok.type == "image":
            yield Item(line, "image", str(tok.attrs.get("src")))
            yield from _inline_items(tok.children or [], line)  # alt text: remark flattens it; check anyway
        elif tok.type == "html_inline":
            yield Item(line, "html", tok.content)
            line += tok.content.count("\n")
        elif tok.type in ("softbreak", "hardbreak"):
            line += 1


def items(tokens: Sequence[Token], env: dict[str, Any]) -> Iterator[Item]:
    """Every destination and raw HTML piece of a parsed report, with its 1-based line.

    Reference definitions come from the parser's env: `references` (the first of each label) and
    `duplicate_refs` (later ones). CML visits every definition node, used or not, duplicates included.
    """
    for tok in tokens:
        line = tok.map[0] + 1 if tok.map else 0
        if tok.type == "inline":
            yield from _inline_items(tok.children or [], line)
        elif tok.type == "html_block":
            yield Item(line, "html", tok.content)
    for ref in [*env.get("references", {}).values(), *env.get("duplicate_refs", [])]:
        yield Item(ref["map"][0] + 1, "definition", ref["href"])


def _https(url: str) -> bool:
    return bool(HTTPS.match(url)) and not {".", ".."} & set(url.split("/"))


def _own_png(url: str, pngs: set[str]) -> bool:
    """A PNG of the artifact by its bare name or ./name: CML resolves both to <folder>/name."""
    return url.removeprefix("./") in pngs


def _html_problems(item: Item) -> Iterator[str]:
    text = HTML_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), item.value)
    for match in HTML_TAG.finditer(text):
        if not HTML_OK.match(text, match.start()):
            tag = text[match.start() :].split(">", 1)[0][:60] + ">"
            line = item.line + text.count("\n", 0, match.start())
            yield f"line {line}: raw HTML {tag!r} (only <details>, <summary>, <code> without attributes)"


def item_problem(item: Item, pngs: set[str]) -> str | None:
    """Why CML must not see this destination, or None when it may."""
    url = item.value
    if _https(url):
        return None
    if item.kind in ("image", "definition") and _own_png(url, pngs):
        return None
    name = "reference definition" if item.kind == "definition" else item.kind
    if url.lower().startswith("https://"):
        why = "has a '.' or '..' segment or no plain host name (CML resolves a URL as a path first)"
    elif item.kind in ("image", "definition"):
        why = "is neither an https:// URL nor one of the artifact's PNGs (name or ./name)"
    else:
        why = "is not an https:// URL"
    return f"line {item.line}: {name} {url!r} {why}"


def _depth_problems(report: str, tokens: Sequence[Token]) -> Iterator[str]:
    """Nesting that markdown-it stops parsing at (CML's parser reads on): nothing in it could be checked."""
    deep = [t for t in tokens if t.level >= MAX_NESTING - 1]
    if deep:
        yield f"line {(deep[0].map or [0])[0] + 1}: nested {MAX_NESTING} levels deep (cannot be checked)"
    depth = 0
    for number, text in enumerate(report.splitlines(), start=1):
        depth = depth if text.strip() else 0  # a link's text cannot span a blank line
        for char in re.sub(r"\\.", "", text):
            depth = depth + 1 if char == "[" else max(depth - 1, 0) if char == "]" else depth
            if depth > MAX_BRACKETS:
                yield f"line {number}: brackets nested more than {MAX_BRACKETS} deep (cannot be checked)"
                return


def _destination_at(text: str, pos: int) -> str:
    """The destination CommonMark reads after "](" or "]:" at `pos`, escapes and entities decoded."""
    start = SPACE_TO_DESTINATION.match(text, pos)
    pos = start.end() if start else pos
    if text.startswith("<", pos):  # <...>: up to an unescaped ">", on one line (`\>` does not end it)
        end = pos + 1
        while end < len(text) and text[end] not in ">\n":
            end += 2 if text[end] == "\\" else 1
        return unescapeAll(text[pos + 1 : min(end, len(text))])
    end, depth = pos, 0
    while end < len(text) and ord(text[end]) > 0x20 and text[end] != "\x7f":  # ASCII space/control ends it
        if text[end] == "\\":
            end += 1
        elif text[end] in "()":
            depth += 1 if text[end] == "(" else -1
            if depth < 0:
                break
        end += 1
    return unescapeAll(text[pos:end])


def _textual_problems(report: str, pngs: set[str], flagged: set[tuple[int, str]]) -> Iterator[str]:
    """A belt that trusts no parser to agree with CML's (remark 13): every place in the raw text where
    CommonMark can put a destination ("](", "]:", "<scheme:...>") must hold an allowed one.

    Measured: markdown-it reads `[r]: /x` and a next line `""y` as a paragraph, remark as a definition.
    """
    found = [(m.start(), _destination_at(report, m.end())) for m in DESTINATION_MARK.finditer(report)]
    found += [(m.start(), m.group(1)) for m in AUTOLINK.finditer(report)]
    for pos, url in sorted(found):
        line = report.count("\n", 0, pos) + 1
        if url and not _https(url) and not _own_png(url, pngs) and (line, url) not in flagged:
            yield f"line {line}: {url!r} stands where CommonMark reads a destination (not https://, no PNG)"
    # Escapes are where parsers disagree most (a `\>` ended the destination for one and not the other);
    # the reports mlops writes never escape anything inside a destination.
    for match in DESTINATION_MARK.finditer(report):
        line_end = report.find("\n", match.end())
        raw = report[match.end() : line_end if line_end >= 0 else None]
        destination = raw.strip().split(" ", 1)[0] if raw.strip() else ""
        if "\\" in destination:
            line = report.count("\n", 0, match.start()) + 1
            yield f"line {line}: a backslash in the destination {destination!r} (escapes are refused)"


def report_problems(report: str, pngs: set[str]) -> list[str]:
    """Everything in report.md that CML could turn into an upload of a file that is not one of `pngs`."""
    tokens, env = _parse(report)
    found = list(_depth_problems(report, tokens))
    flagged: set[tuple[int, str]] = set()
    for item in items(tokens, env):
        if item.kind == "html":
            found += _html_problems(item)
        elif (problem := item_problem(item, pngs)) is not None:
            found.append(problem)
            flagged.add((item.line, item.value))
    return found + list(_textual_problems(report, pngs, flagged))


def check_report(report: str, pngs: set[str]) -> None:
    problems = report_problems(report, pngs)
    if problems:
        listed = "\n  ".join(problems)
        raise InputError(f"artifact: report.md refused (CML would publish what it names):\n  {listed}")


def shown_pngs(report: str, pngs: set[str]) -> list[str]:
    """The artifact's PNGs that report.md names (images and definitions): the only ones CML gets."""
    tokens, env = _parse(report)
    return sorted({i.value.removeprefix("./") for i in items(tokens, env) if _own_png(i.value, pngs)})


def pr_number(artifact: Path, expected: int | None = None) -> int:
    """The validated pull-request number of a downloaded report artifact; InputError names what is wrong."""
    if not artifact.is_dir():
        raise InputError(f"artifact folder not found: {artifact}")
    for item in sorted(artifact.iterdir()):
        if item.is_symlink() or not item.is_file():
            raise InputError(f"artifact: {item.name} is not a regular file")
        if not ALLOWED.match(item.name):
            raise InputError(f"artifact: unexpected file {item.name!r} (only report.md, meta.json, *.png)")
        if item.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"artifact: {item.name} is larger than {MAX_FILE_BYTES} bytes")
    report = artifact / "report.md"
    if not report.exists():
        raise InputError("artifact: report.md is missing")
    if report.stat().st_size > MAX_REPORT_BYTES:
        raise InputError(f"artifact: report.md is larger than {MAX_REPORT_BYTES} bytes")
    try:
        meta = json.loads((artifact / "meta.json").read_text())
    except FileNotFoundError:
        raise InputError("artifact: meta.json is missing (mlops report was run without --pr)") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"artifact: meta.json is not JSON ({exc})") from None
    number = meta.get("pr") if isinstance(meta, dict) else None
    if type(number) is not int or number <= 0:
        raise InputError(f"artifact: meta.json field 'pr' must be a positive integer, got {number!r}")
    # The artifact comes from the pull request's own run (a fork controls its workflow files): the number
    # it claims must be the pull request GitHub says the run's head commit belongs to.
    if expected is not None and number != expected:
        raise InputError(f"artifact: meta.json names pull request {number}; the run belongs to {expected}")
    check_report(_read_report(artifact), _pngs(artifact))
    return number


def _read_report(artifact: Path) -> str:
    # As CML reads it (fs.readFile 'utf-8': invalid bytes become U+FFFD), so the check sees CML's text.
    return (artifact / "report.md").read_text(encoding="utf-8", errors="replace")


def _pngs(artifact: Path) -> set[str]:
    return {p.name for p in artifact.glob("*.png")}


STALE = (
    "::notice title=pr-comment::no open pull request has the run's head commit: the report is for an "
    "outdated commit (the branch moved on, or the pull request was closed) and was not posted; the run of "
    "the newer commit posts its own"
)


def run(artifact: Path, expect_pr: str | None = None) -> int:
    """Print `pr=<n>` for $GITHUB_OUTPUT; print nothing (a notice on stderr, exit 0) when the run is stale."""
    if expect_pr is not None and not expect_pr.strip():
        # stdout is $GITHUB_OUTPUT (key=value lines only); the runner reads workflow commands on stderr too.
        print(STALE, file=sys.stderr)
        return 0
    if expect_pr is not None and not expect_pr.strip().isdigit():
        raise InputError(f"--expect-pr: not a pull-request number: {expect_pr!r}")
    print(f"pr={pr_number(artifact, int(expect_pr) if expect_pr is not None else None)}")
    return 0


# --- how images travel -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageMode:
    """How the report's PNGs reach the comment: CML's public host, a self-hosted one, or not at all."""

    kind: Literal["public", "url", "none"]
    publish_url: str = ""  # empty for `none`: CML reads --publish-url only when it publishes

    @property
    def publish_flag(self) -> str:
        """CML 0.20.6's `--publish` (a boolean, default true); `--no-publish` skips the markdown pass."""
        return "--no-publish" if self.kind == "none" else "--publish"

    @property
    def cml_flags(self) -> list[str]:
        """The `cml comment update` flags of this mode."""
        return [self.publish_flag, *([f"--publish-url={self.publish_url}"] if self.publish_url else [])]


def image_mode(setting: str, private: bool) -> ImageMode:
    """The PR_REPORT_IMAGES repository variable decides; unset: `none` in a private repository, else `public`.

    A private repository's charts must not go to a third-party public host unless it says so.
    """
    value = setting.strip()
    if not value:
        value = "none" if private else "public"
    if value == "none":
        return ImageMode("none")
    if value == "public":
        return ImageMode("public", PUBLIC_HOST)
    if value.startswith("url:") and SELF_HOSTED.fullmatch(value[4:]):
        return ImageMode("url", value[4:])
    raise InputError(f"PR_REPORT_IMAGES={value!r} is not one of {MODES_HELP} (an https URL, no spaces)")


def _escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>&|!#])", r"\\\1", text)


def without_images(report: str, run_url: str) -> str:
    """report.md for `none`: every image becomes a link (its alt text) to the run that holds the charts."""
    if not RUN_URL.fullmatch(run_url):
        raise InputError(f"run URL {run_url!r} is not https://<server>/<owner>/<repo>/actions/runs/<id>")
    _, env = _parse(report)
    sources: list[tuple[str, Token]] = env.get("image_sources", [])
    for source, tok in sorted(sources, key=lambda s: -len(s[0])):
        alt = "".join(c.content for c in tok.children or [] if c.type in ("text", "code_inline")).strip()
        report = report.replace(source, f"[{_escape(alt or 'chart')}]({run_url})")
    left = [t for t in _walk(_parse(report)[0]) if t.type == "image"]
    if left:
        src = left[0].attrs.get("src")
        raise InputError(f"cannot take image {src!r} out of report.md (split over lines?)")
    note = "Charts are not uploaded from this repository: they are in the model-pr run's artifact"
    return f"{report.rstrip()}\n\n> {note}, [model-pr-report]({run_url}).\n"


def _walk(tokens: Sequence[Token]) -> Iterator[Token]:
    for tok in tokens:
        yield tok
        yield from _walk(tok.children or [])


# --- the staging folder ----------------------------------------------------------------------------------


def stage(artifact: Path, out: Path, mode: ImageMode, run_url: str) -> list[str]:
    """Write `out` (which must not exist) with report.md and only the PNGs it shows; return their names.

    CML runs in `out`: a name it resolves can only find these files (and "../" or "/" names are refused
    by the check). In `none` mode no PNG is copied: nothing is uploaded.
    """
    pr_number(artifact)
    report = _read_report(artifact)
    names = shown_pngs(report, _pngs(artifact)) if mode.kind != "none" else []
    text = report if mode.kind != "none" else without_images(report, run_url)
    out.mkdir(parents=True)  # FileExistsError if it exists: a fresh folder, never a merge into an old one
    (out / "report.md").write_text(text, encoding="utf-8")
    for name in names:
        shutil.copyfile(artifact / name, out / name)
    return ["report.md", *names]


def run_stage(artifact: Path, out: Path, images: str, private: str, run_url: str) -> int:
    """Stage for CML; print `dir=`, `images=`, `publish=`, `publish_url=` for $GITHUB_OUTPUT.

    `private` is github.event.repository.private: anything but "false" counts as private (fail closed).
    """
    mode = image_mode(images, private.strip() != "false")
    if out.exists():
        raise InputError(f"{out} exists: the staging folder must be fresh (make pr-comment-stage removes it)")
    staged = stage(artifact, out, mode, run_url)
    print(f"pr-comment-stage: {out} holds {', '.join(staged)} (images: {mode.kind})", file=sys.stderr)
    print(f"dir={out}\nimages={mode.kind}\npublish={mode.publish_flag}\npublish_url={mode.publish_url}")
    return 0
