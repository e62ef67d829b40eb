"""`mlops pr-target`: check the report artifact a pull request's run uploaded, before anything posts it.

The pr-comment workflow runs with a write token on the default branch, and the artifact was produced by
pull-request code (possibly a fork's): it is untrusted data. Only a report and PNG images are accepted,
within size limits, and the pull-request number must be a plain positive integer, so nothing in the
artifact can steer the comment step to another target or smuggle in other files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlops.io import InputError

ALLOWED = re.compile(r"^(report\.md|meta\.json|[a-z0-9][a-z0-9-]{0,63}\.png)$")
MAX_REPORT_BYTES = 60_000  # GitHub rejects comment bodies over 65,536 characters
MAX_FILE_BYTES = 5_000_000


IMAGE_REF = re.compile(r"!\[[^\]]*\]\(([^)\s]*)")
HTML_IMG = re.compile(r"<\s*img\b", re.IGNORECASE)


def check_images(report: str, pngs: set[str]) -> None:
    """CML uploads every local image the markdown names: only the artifact's own PNGs may be named."""
    if HTML_IMG.search(report):
        raise InputError("artifact: report.md contains an HTML <img> tag (only markdown images of its PNGs)")
    for target in IMAGE_REF.findall(report):
        name = target.removeprefix("./")
        if name not in pngs or "/" in name:
            raise InputError(f"artifact: report.md names an image outside the artifact: {target!r}")


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
    check_images(report.read_text(errors="replace"), {p.name for p in artifact.glob("*.png")})
    return number


def run(artifact: Path, expected: str | None = None) -> int:
    if expected is not None and not expected.strip().isdigit():
        raise InputError(f"--expect-pr: no open pull request has the run's head commit (got {expected!r})")
    print(f"pr={pr_number(artifact, int(expected) if expected is not None else None)}")
    return 0
