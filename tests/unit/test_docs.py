"""The README and docs/ stay true: every link resolves, every page is reachable, every command exists.

Docs drift silently: a renamed module, a removed make target, a heading reworded under a link. These
checks read the markdown the way GitHub renders it (code spans and blocks are not links; headings inside
code blocks are not headings) and compare it with the files, the Makefile and `mlops --help`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# A command as written in code: `make <target>` / `mlops <command>` at the start or after a space,
# a slash (.venv/bin/mlops), a bracket or a shell separator.
MAKE = re.compile(r"(?:^|(?<=[\s(;&|`]))make\s+([a-z][\w-]*)", re.MULTILINE)
MLOPS = re.compile(r"(?:^|(?<=[\s(;&|`/]))mlops\s+([a-z][a-z0-9-]*)", re.MULTILINE)
# A file path in a code span: at least one slash, a file extension we keep in the repository, no
# placeholders, URLs or brace expansions.
PATH = re.compile(r"^\.?[\w.-]+(?:/[\w.*-]+)+\.(?:py|ya?ml|md|json|toml|cjs|lock|png)$")
PATH_BASES = (ROOT, ROOT / "src/mlops", ROOT / "tests/workflows/act")


def rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


def without_code(text: str) -> str:
    return CODE_SPAN.sub("", FENCE.sub("", text))


def code(text: str) -> Iterator[str]:
    """Every fenced block and every code span of a page (spans outside the blocks)."""
    for block in FENCE.finditer(text):
        yield block.group(0)
    for span in CODE_SPAN.finditer(FENCE.sub("", text)):
        yield span.group(2)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: markup and punctuation dropped, lowercase, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return frozenset(result)


def links(page: Path) -> Iterator[str]:
    for target in LINK.findall(without_code(page.read_text())):
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ... are not ours to check
            yield target


def test_slug_follows_github() -> None:
    assert slug("How the report's charts travel (`PR_REPORT_IMAGES`)") == (
        "how-the-reports-charts-travel-pr_report_images"
    )
    assert slug("`dvc.lock` merge policy") == "dvclock-merge-policy"
    assert slug("Monitoring: drift, concept drift, retrain") == "monitoring-drift-concept-drift-retrain"


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_relative_link_resolves_to_a_file_and_heading(page: Path) -> None:
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_file():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, f"{rel(page)}: {broken}"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(ROOT / "README.md")}
    orphans = [rel(p) for p in PAGES if p.parent.name == "docs" and p.resolve() not in linked]
    assert not orphans, f"docs pages the README does not link to: {orphans}"


@cache
def make_targets() -> frozenset[str]:
    rule = re.compile(r"^([A-Za-z][\w-]*(?:[ \t]+[A-Za-z][\w-]*)*)[ \t]*:(?!=)", re.MULTILINE)
    return frozenset(t for m in rule.findall((ROOT / "Makefile").read_text()) for t in m.split())


@cache
def mlops_commands() -> frozenset[str]:
    script = Path(sys.executable).with_name("mlops")
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return frozenset(re.findall(r"^ {4}([a-z][a-z0-9-]*)(?:\s|$)", out, re.MULTILINE))


def test_the_command_lists_are_read() -> None:
    assert {"pipeline", "test", "help", "bench"} <= make_targets()
    assert {"ingest", "gate", "report", "deploy", "drift"} <= mlops_commands()


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_make_target_named_exists(page: Path) -> None:
    named = {t for c in code(page.read_text()) for t in MAKE.findall(c)}
    assert not named - make_targets(), f"{rel(page)} names make targets the Makefile lacks"


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_mlops_command_named_exists(page: Path) -> None:
    named = {c for span in code(page.read_text()) for c in MLOPS.findall(span)}
    assert not named - mlops_commands(), f"{rel(page)} names mlops commands `mlops --help` lacks"


@cache
def declared_paths() -> frozenset[str]:
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    return frozenset(str(v) for entry in dvc["vars"] if "paths" in entry for v in entry["paths"].values())


def under_a_declared_path(path: str) -> bool:
    """`path` is a declared path, inside one (reports/pr/report.md) or a folder holding one (data/raw)."""
    return any(
        path == declared or path.startswith(f"{declared}/") or declared.startswith(f"{path.rstrip('/')}/")
        for declared in declared_paths()
    )


def exists(path: str) -> bool:
    if path in declared_paths():  # an output dvc.yaml declares (absent until something writes it)
        return True
    if any(list(base.glob(path)) for base in PATH_BASES):
        return True
    # An ignored path is an output only where dvc.yaml declares it: ignoring alone proves nothing.
    ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False).returncode == 0
    return ignored and under_a_declared_path(path)


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_file_path_in_code_exists(page: Path) -> None:
    """`src/mlops/io.py`, `deploy/smoke.py` (in src/mlops), `.github/pins.yaml`: no renamed file is named."""
    spans = [span.strip() for _, span in CODE_SPAN.findall(FENCE.sub("", page.read_text()))]
    missing = [p for p in spans if PATH.match(p) and not exists(p)]
    assert not missing, f"{rel(page)} names files that do not exist: {missing}"


def _numbers(value: object) -> list[float]:
    """Every number inside a params section (nested models, dicts and lists)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in _numbers(v)]
    if hasattr(value, "model_dump"):
        return _numbers(value.model_dump())
    return []


def test_the_gates_table_shows_the_limits_params_yaml_ships() -> None:
    """docs/gates.md's "default limit" column restates the example's params (the tests' world, which the
    template ships as params.yaml): each number in it must be one of that gate family's values (a percentage
    as its fraction), so a changed limit cannot leave the page stale. The docs are the template's: a fork's
    own limits do not change them."""
    from tests.world import world_params

    gates = world_params().gates
    rows = [
        [cell.strip() for cell in line.split("|")[1:-1]]
        for line in (ROOT / "docs" / "gates.md").read_text().splitlines()
        if line.startswith("| ") and not line.startswith("| gate ")
    ]
    checked = 0
    for family, *_, limits in rows:
        shipped = _numbers(getattr(gates, family))
        for number, percent in re.findall(r"(\d[\d,]*(?:\.\d+)?(?:e-?\d+)?)\s*(%?)", limits):
            value = float(number.replace(",", "")) / (100 if percent else 1)
            assert any(abs(value - s) <= 1e-12 for s in shipped), f"docs/gates.md {family}: {number}{percent}"
            checked += 1
    assert checked >= 15
