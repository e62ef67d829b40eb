"""The README's annotated tree is one of the two maps: every entry exists, every top-level entry is there."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENTRY = re.compile(r"^(?P<indent>(?:│   |    )*)(?:├── |└── )(?P<name>\S+)")


def tree_paths() -> list[str]:
    """Paths listed in the ```text block under '## Layout', rebuilt from the tree's indentation."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Layout", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    stack: list[str] = []
    paths = []
    for line in block.splitlines():
        match = ENTRY.match(line)
        if not match:
            continue
        depth = len(match["indent"]) // 4
        stack = [*stack[:depth], match["name"].rstrip("/")]
        paths.append("/".join(stack))
    return paths


def ignored(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False).returncode == 0


def test_every_listed_path_exists_or_is_a_declared_ignored_output() -> None:
    paths = tree_paths()
    assert len(paths) > 20
    missing = [p for p in paths if not (ROOT / p).exists() and not ignored(p)]
    assert not missing, f"README tree lists paths that do not exist: {missing}"


def test_every_top_level_entry_of_the_repo_is_in_the_tree() -> None:
    listed = {p.split("/")[0] for p in tree_paths()}
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    top = {f.split("/")[0] for f in files} - {".gitignore", ".dvcignore", ".github"}
    assert not top - listed, f"top-level entries missing from the README tree: {sorted(top - listed)}"


def test_every_package_module_is_in_the_tree() -> None:
    listed = set(tree_paths())
    modules = {f"src/mlops/{p.name}" for p in (ROOT / "src/mlops").glob("*.py") if p.name != "__init__.py"}
    assert not modules - listed, f"modules missing from the README tree: {sorted(modules - listed)}"


def test_every_untracked_tree_path_is_ignored_while_absent(tmp_path: Path) -> None:
    """A fresh clone has none of the outputs: their ignore patterns must match paths that do not exist.

    (`/models/` with a trailing slash matches only an existing directory, so a fresh clone's tree check
    failed while a clone that had run the pipeline passed.) The check runs in an empty repository holding
    only this checkout's ignore files, so no output of an earlier command can make it pass.
    """
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for rel in files:
        if Path(rel).name == ".gitignore":
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, tmp_path / rel)
    untracked = [p for p in tree_paths() if not any(f == p or f.startswith(f"{p}/") for f in files)]
    assert untracked, "the README tree lists no ignored output: the check would be vacuous"
    unmatched = [
        p
        for p in untracked
        if subprocess.run(["git", "check-ignore", "-q", p], cwd=tmp_path, check=False).returncode != 0
    ]
    assert not unmatched, f"README tree paths neither tracked nor ignored while absent: {unmatched}"
