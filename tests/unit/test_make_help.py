"""`make help` lists every described target under its group (`##@ <group>` markers), and every target the
workflows call exists there: the workflow-only ones under "CI steps", each one `mlops` command."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from mlops.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (ROOT / "Makefile").read_text()
GROUPS = ["Everyday", "Pull request", "Deploy", "Monitor", "Benchmark", "CI steps"]
# Workflow-called targets that people run too, in their own group; every other one is a CI step.
NOT_CI_STEPS = {
    "env": "Everyday",
    "pipeline": "Everyday",
    "ci": "Everyday",
    "report": "Pull request",
    "package": "Deploy",
    "image": "Deploy",
    "fetch-log": "Monitor",
    "retrain-data": "Monitor",
}
DESCRIBED = re.compile(r"^([a-zA-Z0-9_-]+):.*## ", re.MULTILINE)


def help_groups() -> dict[str, list[str]]:
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    groups: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line and not line.startswith(" "):
            current = line.removesuffix(":")
            assert current not in groups, f"group {current} printed twice"
            groups[current] = []
        elif line.strip():
            assert current is not None, f"a target before any group: {line!r}"
            groups[current].append(line.split()[0])
    return groups


def workflow_targets() -> set[str]:
    files = [*ROOT.glob(".github/workflows/*.yml"), *ROOT.glob(".github/actions/*/action.yml")]
    targets: set[str] = set()
    for file in files:
        for match in re.finditer(r"run:\s*make\s+(.*)", file.read_text()):
            for word in match.group(1).split():
                if word.startswith("-"):
                    continue
                if not re.fullmatch(r"[a-z][a-z0-9-]*", word):
                    break  # VAR=value, a redirection: the targets are over
                targets.add(word)
    return targets


def recipe(target: str) -> list[str]:
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)*)", MAKEFILE, re.MULTILINE)
    assert match, f"no rule for {target}"
    return [line.strip() for line in match.group(1).splitlines()]


def test_help_prints_the_groups_in_order_and_every_described_target_once() -> None:
    groups = help_groups()
    assert list(groups) == GROUPS
    listed = [target for targets in groups.values() for target in targets]
    assert sorted(listed) == sorted(DESCRIBED.findall(MAKEFILE))  # k8s-render too: digits in a name
    assert MAKEFILE.index("##@ ") < DESCRIBED.search(MAKEFILE).start()  # type: ignore[union-attr]


def test_every_target_the_workflows_call_exists_in_its_group() -> None:
    groups = help_groups()
    group_of = {target: group for group, targets in groups.items() for target in targets}
    called = workflow_targets()
    assert {"pull-if-remote", "drift-ci", "revert-production", "image"} <= called  # the parse finds them
    for target in sorted(called):
        assert target in group_of, f"a workflow calls `make {target}`: no such described target"
        assert group_of[target] == NOT_CI_STEPS.get(target, "CI steps"), target


def test_each_ci_command_is_one_make_line() -> None:
    ci = [command.name for command in COMMANDS if command.group == "ci"]
    assert ci
    groups = help_groups()
    for name in ci:
        assert name in groups["CI steps"], name
        lines = recipe(name)
        assert len(lines) == 1 and re.match(rf"@?\$\(BIN\)/mlops {name}( |$)", lines[0]), (name, lines)
