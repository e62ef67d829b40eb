"""Each churny library is imported by its one adapter module only (BentoML also by serving/service.py, which
defines the BentoML service class): a pinned tool's next release breaks one file, not the codebase."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "mlops"
ADAPTERS = {
    "dvc": {"adapters/dvc_cli.py"},
    "mlflow": {"adapters/tracking.py"},
    "great_expectations": {"adapters/gx.py"},
    "bentoml": {"adapters/bento.py", "serving/service.py"},
    "evidently": {"adapters/evidently.py"},
    "vl_convert": {"adapters/vega.py"},
}


def importers(library: str) -> set[str]:
    found = set()
    for module in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(name == library or name.startswith(f"{library}.") for name in names):
                found.add(module.relative_to(SRC).as_posix())
    return found


@pytest.mark.parametrize("library", sorted(ADAPTERS))
def test_a_churny_library_is_imported_by_its_adapter_only(library: str) -> None:
    assert importers(library) == ADAPTERS[library]


def test_the_container_code_imports_nothing_of_the_deploying_side() -> None:
    """serving/ is what runs in the image; mlops.deploy drives it from outside (and imports serving's
    constants), so serving importing deploy would ship the deploying side into the container."""
    assert {m for m in importers("mlops.deploy") if m.startswith("serving/")} == set()
