"""Every third-party `uses:` in .github is pinned to a commit SHA that .github/pins.yaml records as verified.

`zizmor --offline` (make lint-workflows) sees that a `uses:` is pinned to a SHA, but not whether that SHA is
a release of the action (an impostor commit from a fork or an unmerged pull request looks the same) nor
whether the `# vX.Y.Z` comment beside it is true. pins.yaml records, per SHA, the tag found at it in the
action repository's own history and the files its action.yml runs; these tests tie every `uses:` to such
a record. The checks are pure functions of file text, so the tests below also feed them broken copies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
PINS = GITHUB / "pins.yaml"

# A `uses:` line, as a step (`- uses:`) or a key of one; an optional trailing `# comment`.
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)(?:\s+#\s*(?P<comment>.*?))?\s*$")
PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+)(?:/[^@]*)?@(?P<sha>[0-9a-f]{40})$")
VERSION = re.compile(r"^v\d+(?:\.\d+)*$")
SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Use:
    """One `uses:` line of a workflow or action file."""

    where: str  # "file:line", for messages
    ref: str
    comment: str | None

    @property
    def is_local(self) -> bool:
        return self.ref.startswith("./")

    @property
    def version(self) -> str | None:
        """The first word of the trailing comment (`# v4.2.2` -> `v4.2.2`)."""
        return self.comment.split()[0] if self.comment else None


@dataclass(frozen=True)
class Pin:
    """One record of pins.yaml."""

    action: str
    sha: str
    tag: str


def scan_uses(text: str, name: str = "<text>") -> list[Use]:
    """Every `uses:` line of a workflow or action file's text."""
    uses = []
    for number, line in enumerate(text.splitlines(), start=1):
        if match := USES_LINE.match(line):
            ref = match["ref"].strip("\"'")
            uses.append(Use(f"{name}:{number}", ref, match["comment"] or None))
    return uses


def _walk_uses(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uses" and isinstance(value, str):
                yield value
            else:
                yield from _walk_uses(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_uses(item)


def parsed_uses(text: str) -> list[str]:
    """Every `uses:` value the YAML parser sees (to prove the line scanner misses none)."""
    return list(_walk_uses(yaml.safe_load(text)))


def pin_problems(text: str, name: str = "<text>") -> list[str]:
    """(a) Every non-local `uses:` is `owner/repo[/path]@<40-hex sha> # vX[.Y.Z]`."""
    problems = []
    for use in scan_uses(text, name):
        if use.is_local:
            continue
        if not PINNED.match(use.ref):
            problems.append(f"{use.where}: {use.ref} is not pinned to a full commit SHA")
        elif use.version is None or not VERSION.match(use.version):
            problems.append(f"{use.where}: {use.ref} has no `# vX.Y.Z` comment naming its release")
    return problems


def record_problems(pins_text: str) -> list[str]:
    """(d) Every record names action, SHA, tag, the file its action.yml runs, and how it was verified."""
    data = yaml.safe_load(pins_text)
    records = data.get("pins") if isinstance(data, dict) else None
    if not isinstance(records, list) or not records:
        return ["pins.yaml has no `pins:` list"]
    problems = []
    seen: set[str] = set()
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            problems.append(f"record {index} is not a mapping")
            continue
        label = f"record {index} ({record.get('action', '?')})"
        action, sha, tag = record.get("action"), record.get("sha"), record.get("tag")
        runs, verified = record.get("runs"), record.get("verified")
        if not isinstance(action, str) or not re.fullmatch(r"[\w.-]+/[\w.-]+", action):
            problems.append(f"{label}: `action` is not owner/repo")
        if not isinstance(sha, str) or not SHA.match(sha):
            problems.append(f"{label}: `sha` is not a 40-hex commit SHA")
        elif sha in seen:
            problems.append(f"{label}: SHA {sha} is recorded twice")
        else:
            seen.add(sha)
        if not isinstance(tag, str) or not VERSION.match(tag):
            problems.append(f"{label}: `tag` does not name a vX.Y.Z release")
        if not isinstance(runs, dict) or not runs.get("using") or not runs.get("main"):
            problems.append(f"{label}: `runs` does not name `using` and the `main` file found at the SHA")
        if not isinstance(verified, dict) or not all(verified.get(k) for k in ("how", "against", "date")):
            problems.append(f"{label}: `verified` does not say how, against what and when")
    return problems


def load_pins(pins_text: str) -> dict[str, Pin]:
    """pins.yaml's records by SHA (assumes record_problems found none)."""
    records = yaml.safe_load(pins_text)["pins"]
    return {r["sha"]: Pin(r["action"], r["sha"], r["tag"]) for r in records}


def record_mismatches(text: str, pins: dict[str, Pin], name: str = "<text>") -> list[str]:
    """(b) each pinned SHA has a record for the same action; (c) its comment names the record's tag."""
    problems = []
    for use in scan_uses(text, name):
        match = PINNED.match(use.ref)
        if use.is_local or not match:
            continue  # pin_problems reports those
        pin = pins.get(match["sha"])
        if pin is None:
            problems.append(f"{use.where}: {use.ref} has no record in .github/pins.yaml")
        elif pin.action != match["action"]:
            problems.append(f"{use.where}: SHA {pin.sha} is recorded for {pin.action}, not {match['action']}")
        elif use.version != pin.tag:
            problems.append(f"{use.where}: comment says {use.version}, pins.yaml records {pin.tag}")
    return problems


def github_files() -> list[Path]:
    files = {*GITHUB.rglob("*.yml"), *GITHUB.rglob("*.yaml")} - {PINS}
    return sorted(files)


def label(path: Path) -> str:
    return str(path.relative_to(ROOT))


# ---- the repository ------------------------------------------------------------------------------------


def test_the_line_scanner_sees_every_uses_the_yaml_parser_sees() -> None:
    for path in github_files():
        text = path.read_text()
        assert [u.ref for u in scan_uses(text)] == parsed_uses(text), label(path)


def test_the_workflows_use_third_party_actions_at_all() -> None:
    third_party = [u for p in github_files() for u in scan_uses(p.read_text()) if not u.is_local]
    assert len(third_party) >= 5  # guards the scanner against silently matching nothing


def test_every_third_party_uses_is_pinned_to_a_sha_with_a_version_comment() -> None:
    problems = [p for path in github_files() for p in pin_problems(path.read_text(), label(path))]
    assert not problems, "\n".join(problems)


def test_every_record_names_its_tag_its_runs_file_and_how_it_was_verified() -> None:
    problems = record_problems(PINS.read_text())
    assert not problems, "\n".join(problems)


def test_every_pinned_sha_is_recorded_for_the_same_action_and_its_comment_is_the_recorded_tag() -> None:
    pins = load_pins(PINS.read_text())
    problems = [p for path in github_files() for p in record_mismatches(path.read_text(), pins, label(path))]
    assert not problems, "\n".join(problems)


# ---- deliberately broken copies ------------------------------------------------------------------------

CHECKOUT_SHA = "11bd71901bbe5b1630ceea73d27597364c9af683"
GOOD_PINS = f"""\
pins:
  - action: actions/checkout
    sha: {CHECKOUT_SHA}
    tag: v4.2.2
    runs: {{using: node20, main: dist/index.js, post: dist/index.js}}
    verified: {{how: git tag --points-at <sha>, against: a mirror, date: 2026-12-01}}
"""
GOOD_STEP = f"      - uses: actions/checkout@{CHECKOUT_SHA} # v4.2.2\n"


def workflow(step: str) -> str:
    return f"on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n{step}      - uses: ./.github/x\n"


def all_problems(workflow_text: str, pins_text: str = GOOD_PINS) -> list[str]:
    problems = pin_problems(workflow_text) + record_problems(pins_text)
    return problems or record_mismatches(workflow_text, load_pins(pins_text))


def test_a_good_copy_passes_every_check() -> None:
    assert all_problems(workflow(GOOD_STEP)) == []


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("      - uses: actions/checkout@v4 # v4.2.2\n", "not pinned to a full commit SHA"),
        ("      - uses: actions/checkout@11bd719 # v4.2.2\n", "not pinned to a full commit SHA"),
        (f"      - uses: actions/checkout@{CHECKOUT_SHA}\n", "has no `# vX.Y.Z` comment"),
        (f"      - uses: actions/checkout@{CHECKOUT_SHA} # pinned\n", "has no `# vX.Y.Z` comment"),
        (f"      - uses: actions/checkout@{'0' * 40} # v4.2.2\n", "has no record in .github/pins.yaml"),
        (f"      - uses: evil/checkout@{CHECKOUT_SHA} # v4.2.2\n", "recorded for actions/checkout"),
        (f"      - uses: actions/checkout@{CHECKOUT_SHA} # v4.2.3\n", "comment says v4.2.3"),
        (f"      - name: x\n        uses: 'actions/checkout@{CHECKOUT_SHA}' # v4\n", "comment says v4,"),
    ],
    ids=[
        "tag ref",
        "short sha",
        "no comment",
        "comment without version",
        "unrecorded sha",
        "sha of another action",
        "comment names another release",
        "quoted ref with a major-only comment",
    ],
)
def test_a_broken_uses_line_is_caught_naming_the_problem(step: str, expected: str) -> None:
    problems = all_problems(workflow(step))
    assert len(problems) == 1, problems
    assert expected in problems[0]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    tag: v4.2.2\n", "", "`tag` does not name"),
        ("main: dist/index.js, ", "", "`runs` does not name"),
        ("how: git tag --points-at <sha>, ", "", "`verified` does not say"),
        (f"sha: {CHECKOUT_SHA}", "sha: 11bd719", "`sha` is not a 40-hex"),
        ("pins:\n", "pins: []\nx:\n", "no `pins:` list"),
    ],
    ids=["no tag", "no runs.main", "no verification method", "short sha", "empty"],
)
def test_a_broken_record_is_caught_naming_the_problem(old: str, new: str, expected: str) -> None:
    assert old in GOOD_PINS
    problems = record_problems(GOOD_PINS.replace(old, new, 1))
    assert any(expected in p for p in problems), problems


def test_a_sha_recorded_twice_is_caught() -> None:
    duplicated = GOOD_PINS + GOOD_PINS.removeprefix("pins:\n")
    assert any("recorded twice" in p for p in record_problems(duplicated))


def test_a_uses_the_line_scanner_cannot_see_shows_up_as_a_difference_from_the_yaml_parser() -> None:
    hidden = workflow(f"      - {{uses: actions/checkout@{CHECKOUT_SHA}}}\n")
    assert [u.ref for u in scan_uses(hidden)] != parsed_uses(hidden)
