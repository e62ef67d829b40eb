"""mlops.adapters.bento against a real BentoML store in a throwaway BENTOML_HOME.

Each scenario runs in a fresh interpreter: BentoML resolves BENTOML_HOME once per process (a singleton
of its DI container), so an in-process test would share whatever store an earlier test touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

TAG = "tiny:0123456789abcdef"

SERVICE = """
import bentoml


@bentoml.service
class Echo:
    @bentoml.api
    def echo(self, text: str) -> str:
        return text
"""


def _run(script: str, home: Path, cwd: Path) -> Any:
    """Run `script` (which prints one JSON line last) with BENTOML_HOME=home; its parsed output."""
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _tiny_model(path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    joblib.dump(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), path)
    return path


def test_models_are_created_found_and_missing_tags_say_so(tmp_path: Path) -> None:
    model_file = _tiny_model(tmp_path / "model.joblib")
    out = _run(
        f"""
        import json
        from pathlib import Path
        from mlops.adapters import bento

        before = bento.find_model({TAG!r})
        created = bento.create_model(
            {TAG!r},
            metadata={{"model_md5": "abc", "threshold": 0.5}},
            labels={{"stage": "gated"}},
            files={{"model.joblib": Path({str(model_file)!r}), "golden.json": "[]"}},
        )
        stored = bento.model({TAG!r})
        latest = bento.find_model("tiny:latest")
        try:
            bento.model("tiny:ffffffffffffffff")
            missing = "found"
        except bento.NotFoundError as error:
            missing = type(error).__mro__[1].__name__
        print(json.dumps({{
            "before": before is None,
            "created": created,
            "stored": [stored.tag, str(stored.path), stored.metadata, stored.labels],
            "latest": latest.tag,
            "files": sorted(p.name for p in stored.path.iterdir()),
            "unknown": bento.find_model("nothere:0000") is None,
            "missing": missing,
            "no_bento": bento.find_bento("tiny:0000") is None,
        }}))
        """,
        home=tmp_path / "home",
        cwd=tmp_path,
    )
    assert out["before"] and out["unknown"] and out["no_bento"]
    assert out["created"] == TAG
    tag, folder, metadata, labels = out["stored"]
    assert tag == out["latest"] == TAG
    assert Path(folder).is_relative_to(tmp_path / "home" / "models")  # the store of this BENTOML_HOME
    assert metadata == {"model_md5": "abc", "threshold": 0.5} and labels == {"stage": "gated"}
    assert {"model.joblib", "golden.json"} <= set(out["files"])
    assert (Path(folder) / "model.joblib").read_bytes() == model_file.read_bytes()
    assert (Path(folder) / "golden.json").read_text() == "[]"
    assert out["missing"] == "LookupError"


def test_bentos_build_with_the_private_env_class_and_without_it(tmp_path: Path) -> None:
    """Both routes of build_bento (BentoEnvSchema, and the bentofile fallback for when BentoML moves
    that private class) give a bento with the same env defaults and model, found and exported."""
    ctx = tmp_path / "ctx"  # the build context; BENTOML_HOME outside it (BentoML walks every folder)
    ctx.mkdir()
    (ctx / "svc.py").write_text(SERVICE)
    (ctx / "notes.txt").write_text("not in include")
    model_file = _tiny_model(tmp_path / "model.joblib")
    out = _run(
        f"""
        import json
        from pathlib import Path
        import bentoml
        from mlops.adapters import bento

        files = {{"model.joblib": Path({str(model_file)!r})}}
        bento.create_model({TAG!r}, metadata={{}}, labels={{}}, files=files)
        assert bento._env_schema() is not None  # BentoML 1.4's private path still holds the class
        options = dict(
            name="tiny", labels={{"k": "v"}}, include=["svc.py"], exclude=[],
            envs={{"MLOPS_MODEL_TAG": {TAG!r}}}, models=[{TAG!r}],
            python={{"lock_packages": False, "packages": []}}, build_ctx=Path("."),
            description="tiny: the API",
        )
        result = {{}}
        for route, version in (("private", "v1"), ("bentofile", "v2")):
            if route == "bentofile":
                bento._env_schema = lambda: None
            tag = bento.build_bento("svc:Echo", version=version, **options)
            stored = bentoml.get(tag)
            info = stored.info
            bento.export_bento(tag, Path(f"{{version}}.bento"))
            result[route] = {{
                "tag": tag,
                "found": bento.find_bento(tag),
                "envs": [[e.name, e.value] for e in info.envs],
                "models": [str(m.tag) for m in info.models],
                "labels": dict(info.labels),
                "exported": Path(f"{{version}}.bento").stat().st_size > 0,
                "src": sorted(p.name for p in Path(stored.path, "src").iterdir()),
            }}
        print(json.dumps(result))
        """,
        home=tmp_path / "home",
        cwd=ctx,
    )
    assert out["private"]["tag"] == out["private"]["found"] == "tiny:v1"
    assert out["bentofile"]["tag"] == out["bentofile"]["found"] == "tiny:v2"
    for route in ("private", "bentofile"):
        assert out[route]["envs"] == [["MLOPS_MODEL_TAG", TAG]], route
        assert out[route]["models"] == [TAG] and out[route]["labels"] == {"k": "v"}, route
        assert out[route]["exported"], route
        assert "svc.py" in out[route]["src"] and "notes.txt" not in out[route]["src"], route
    assert out["private"]["src"] == out["bentofile"]["src"]
