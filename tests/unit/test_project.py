"""Project tests: the few checks that read THIS project's own files (a fork's contract, params and deploy
records, not the tests' world) and hold for any dataset.

Everything else under tests/ is a template test: it runs the machinery on tests/world (the example) so it
passes whatever a fork puts in data/ and params.yaml. These check that what the fork put there is usable:
the pipeline's own stages then judge its data (validate) and its model (gate). docs/tests.md lists the
project tests in the other files (the README and docs maps, dvc.yaml, the workflows).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import ROOT

from mlops.consistency import load_checked
from mlops.contract import Contract
from mlops.deploy.records import read_record
from mlops.generate import generate
from mlops.io import TEXT_SUFFIXES
from mlops.params import Params
from mlops.paths import declared
from mlops.stages.ingest import source_path

PATHS = declared(ROOT / "dvc.yaml")


@pytest.fixture(scope="module")
def project() -> tuple[Params, Contract]:
    return load_checked(ROOT / PATHS["params"], ROOT / PATHS["contract"])


def test_the_projects_params_and_contract_load_and_fit_each_other(project: tuple[Params, Contract]) -> None:
    # Guards a swapped contract with params still naming the old columns (monotonic, behaviour rules,
    # fairness attributes) or a time split without a time column: every stage would exit 2.
    params, contract = project
    assert params.project.name and contract.target


def test_the_ingest_source_is_the_generator_or_an_extract_dvc_tracks(
    project: tuple[Params, Contract], monkeypatch: pytest.MonkeyPatch
) -> None:
    params, contract = project
    source = params.ingest.source
    if source == "synthetic":
        # Guards a new contract left on the example's generator: its columns would all fail validation.
        assert list(generate(rows=20, seed=0).columns) == list(contract.data_columns), (
            "ingest.source is `synthetic` (the example's generator) but the contract is not the example's"
        )
        return
    monkeypatch.chdir(ROOT)  # ingest resolves the source from the project root, as `dvc repro` runs it
    path = source_path(source, Path(PATHS["extracts"]))  # refused outside data/extract/
    assert path.suffix in {".parquet", *TEXT_SUFFIXES}, source
    # Guards an extract a fresh clone cannot get: present here, or tracked by DVC (`dvc pull` fetches it).
    assert path.exists() or path.with_name(path.name + ".dvc").exists(), f"{source}: no file and no .dvc"


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_deploy_records_parse(env: str) -> None:
    # Guards a hand-edited record: deploy, promote and the champion gate would all stop on it.
    assert read_record(ROOT / PATHS[env]).environment == env
