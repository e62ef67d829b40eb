"""The README is one of the two maps: its tree lists what exists, its pipeline table says what dvc.yaml says.

The tree names the top-level modules of src/mlops and each subpackage with a one-line summary (modules
inside subpackages come and go; a module a summary names must exist). The README stays a map: at most
250 lines, the manual in docs/ (tests/unit/test_docs.py checks the links and commands of both).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ENTRY = re.compile(r"^(?P<indent>(?:│   |    )*)(?:├── |└── )(?P<name>\S+)(?P<summary>.*)$")
PACKAGE = ROOT / "src/mlops"
MAX_LINES = 290  # 250 until the team-scale recipes (run by tests/teamscale) and serving figures joined it


def readme() -> str:
    return (ROOT / "README.md").read_text()


def tree() -> dict[str, str]:
    """Path -> summary (continuation lines included) of the ```text block under '## Layout'."""
    block = readme().split("## Layout", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    stack: list[str] = []
    entries: dict[str, str] = {}
    for line in block.splitlines():
        match = ENTRY.match(line)
        if match:
            depth = len(match["indent"]) // 4
            stack = [*stack[:depth], match["name"].rstrip("/")]
            entries["/".join(stack)] = match["summary"].strip()
        elif stack and line.strip(" │"):  # a summary's continuation line
            entries["/".join(stack)] += " " + line.strip(" │")
    return entries


def tree_paths() -> list[str]:
    """Paths listed in the tree, rebuilt from its indentation."""
    return list(tree())


def ignored(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False).returncode == 0


def declared(path: str) -> bool:
    """A dvc.yaml `vars.paths` value, inside one, or a folder holding one (data/raw holds paths.raw)."""
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    values = [str(v) for entry in dvc["vars"] if "paths" in entry for v in entry["paths"].values()]
    return any(path == v or path.startswith(f"{v}/") or v.startswith(f"{path}/") for v in values)


def test_every_listed_path_exists_or_is_a_declared_ignored_output() -> None:
    paths = tree_paths()
    assert len(paths) > 20
    missing = [p for p in paths if not (ROOT / p).exists() and not (ignored(p) and declared(p))]
    assert not missing, f"README tree lists paths that do not exist: {missing}"


def test_every_top_level_entry_of_the_repo_is_in_the_tree() -> None:
    listed = {p.split("/")[0] for p in tree_paths()}
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    top = {f.split("/")[0] for f in files} - {".gitignore", ".dvcignore", ".github"}
    assert not top - listed, f"top-level entries missing from the README tree: {sorted(top - listed)}"


def test_every_top_level_module_and_subpackage_is_in_the_tree() -> None:
    listed = set(tree_paths())
    modules = {f"src/mlops/{p.name}" for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    packages = {f"src/mlops/{p.parent.name}" for p in PACKAGE.glob("*/__init__.py")}
    missing = (modules | packages) - listed
    assert not missing, f"modules and subpackages missing from the README tree: {sorted(missing)}"


def test_every_module_a_subpackage_summary_names_exists() -> None:
    """`runtime.py` in the serving/ line is serving/runtime.py; `serving/service.py` is from src/mlops."""
    named = {
        (package, name)
        for path, summary in tree().items()
        if (package := PACKAGE / path.removeprefix("src/mlops/")).is_dir() and path.startswith("src/mlops/")
        for name in re.findall(r"[\w/]+\.py\b", summary)
    }
    assert len(named) > 10
    missing = [
        f"{package.name}: {name}"
        for package, name in named
        if not ((PACKAGE / name) if "/" in name else (package / name)).is_file()
    ]
    assert not missing, f"README tree summaries name modules that do not exist: {missing}"


def test_the_stages_package_holds_exactly_the_dvc_stages() -> None:
    stages = set(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])
    modules = {p.stem for p in (PACKAGE / "stages").glob("*.py") if p.name != "__init__.py"}
    assert modules == stages, "the tree says stages/ is exactly the DVC stages"
    summary = tree()["src/mlops/stages"]
    assert all(stage in summary for stage in stages), summary


def test_the_readme_is_a_map_not_the_manual() -> None:
    lines = len(readme().splitlines())
    assert lines <= MAX_LINES, f"README.md has {lines} lines (at most {MAX_LINES}): move the manual to docs/"


def pipeline_rows() -> dict[str, list[set[str]]]:
    """Stage -> [reads, writes, params keys] as the README's pipeline table states them (backticked)."""
    section = readme().split("## The pipeline", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            stage = cells[0].strip("`")
            reads, writes, params = ({t.rstrip("/") for t in re.findall(r"`([^`]+)`", c)} for c in cells[1:4])
            rows[stage] = [{t for t in reads if "/" in t}, {t for t in writes if "/" in t}, params]
    return rows


def dvc_stages() -> dict[str, list[set[str]]]:
    """Stage -> [data deps but the contract, outs and metrics, params keys] from dvc.yaml."""
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    paths = next(v["paths"] for v in dvc["vars"] if "paths" in v)

    def resolve(entry: str | dict[str, object]) -> str:
        name = entry if isinstance(entry, str) else next(iter(entry))
        return re.sub(r"\$\{paths\.(\w+)\}", lambda m: str(paths[m[1]]), name)

    stages = {}
    for name, stage in dvc["stages"].items():
        deps = {resolve(d) for d in stage.get("deps", [])} - {paths["contract"]}
        outs = {resolve(o) for o in [*stage.get("outs", []), *stage.get("metrics", [])]}
        stages[name] = [{d for d in deps if not d.startswith("src/")}, outs, set(stage.get("params", []))]
    return stages


def test_the_pipeline_table_says_what_dvc_yaml_says() -> None:
    """Reads (data deps; every stage also reads the contract, as the README says), writes, params keys."""
    assert pipeline_rows() == dvc_stages()
    contract = yaml.safe_load((ROOT / "dvc.yaml").read_text())["vars"][0]["paths"]["contract"]
    assert "Every stage also reads `" + contract + "`" in readme()


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
