"""`mlops report --base <rev>`: the pull-request report (reports/pr/report.md and its PNG plots).

Runs after `dvc repro` in the model-pr workflow, also when repro failed: it reports what this branch
actually produced and says which stages did not complete, never passing off the base's files as the
candidate's. Facts come from git, `dvc ... diff --json` and the reports; the text is built by
mlops.pr.render. The folder is written whole or not at all (built beside it, then swapped in).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from mlops.adapters import dvc_cli
from mlops.io import InputError, read_json, write_json, write_text
from mlops.lineage import file_md5
from mlops.paths import DVC_YAML
from mlops.paths import declared as declared_paths
from mlops.pr import render

META = "meta.json"  # what pr-comment needs: the pull-request number, validated there (mlops pr-target)


def _git(args: list[str], cwd: Path) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise InputError(f"`git {' '.join(args)}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def not_reproduced(stages: list[str], edges: list[tuple[str, str]], changed: set[str]) -> list[str]:
    """Changed stages and everything downstream of them, in pipeline order.

    `dvc status` lists only stages whose own inputs changed: after validation fails, `train` still matches
    the lock (its input was never rewritten) although it did not run on this branch's data.
    """
    downstream: dict[str, set[str]] = {s: set() for s in stages}
    for a, b in edges:
        downstream.setdefault(a, set()).add(b)
    todo, seen = list(changed), set(changed)
    while todo:
        for nxt in downstream.get(todo.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return [s for s in stages if s in seen]


def relabel(spec: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """Rename DVC's revision labels ('workspace', a SHA) in a plot spec's data and colour scale."""
    text = json.dumps(spec)
    for old, new in names.items():
        text = text.replace(f'"{old}"', json.dumps(new))
    out: dict[str, Any] = json.loads(text)
    return out


def slug(title: str, taken: set[str] | None = None) -> str:
    """A file name for a plot: lowercase, dashes, at most 48 characters, unique among `taken`."""
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:48].strip("-") or "plot"
    name, n = base, 1
    while taken is not None and name in taken:
        n += 1
        name = f"{base}-{n}"
    if taken is not None:
        taken.add(name)
    return name


def _mlflow_run(experiment: str, model_md5: str) -> str:
    from mlops.adapters.tracking import find_model_run, tracking_uri

    try:
        run_id = find_model_run(experiment=experiment, model_md5=model_md5)
    except Exception as exc:  # lineage informs; an unreachable store must not hide the report
        return f"not looked up ({type(exc).__name__}: {exc})"
    if run_id is None:
        return f"no run for this model in {tracking_uri()} (the model came from the DVC cache)"
    return f"`{run_id}` in {tracking_uri()}"


def gather(
    base: str, out_dir: Path, root: Path, experiment: str, head: str | None = None
) -> render.ReportInputs:
    """Read what this branch produced; render its plots into out_dir. `head`: the PR's head commit (on
    GitHub the checkout is a temporary merge of it into the base)."""
    base_sha = _git(["rev-parse", "--verify", f"{base}^{{commit}}"], root)
    tested = _git(["rev-parse", "HEAD"], root)
    head_sha = head or tested
    paths = declared_paths(root / DVC_YAML)
    stages, edges = dvc_cli.stage_edges(root)
    missing = not_reproduced(stages, edges, dvc_cli.changed_stages(root))

    def path(key: str) -> Path:
        return root / paths[key]

    def current(stage: str) -> bool:
        return stage not in missing

    validation = read_json(path("validation")) if path("validation").exists() else None
    # A failed validation rewrites its report before stopping the pipeline: that report is this branch's.
    if validation is not None and not current("validate") and validation["success"]:
        validation = None
    if validation is not None and not current("ingest"):
        validation = None

    model_md5 = file_md5(path("model")) if path("model").exists() else None
    gates = read_json(path("gates")) if path("gates").exists() else None
    # A failed gate writes its report, then stops: current only if it judged the model this branch trained.
    if gates is not None and not current("gate"):
        upstream_ok = all(current(s) for s, t in edges if t == "gate")
        if not (upstream_ok and model_md5 and gates.get("model_md5") == model_md5):
            gates = None

    evaluated = current("evaluate")
    metrics = dvc_cli.metrics_diff(base_sha, root) if evaluated else None
    slices = read_json(path("slices")) if evaluated and path("slices").exists() else None
    base_label = f"{base} @ {base_sha[:7]}" if base != base_sha else base_sha[:7]
    plots: list[tuple[str, str]] = []
    if evaluated:
        names = {"workspace": "candidate", base_sha: "base"}
        taken: set[str] = set()
        for title, spec in dvc_cli.plots_diff(base_sha, root).items():
            from mlops.adapters.vega import render_png

            file = f"{slug(title, taken)}.png"
            render_png(relabel(spec, names), out_dir / file)
            plots.append((title, file))

    lineage = [("candidate commit", f"`{head_sha}`"), ("base commit", f"`{base_sha}`")]
    if tested != head_sha:
        lineage.append(("tested commit (the PR merged into the base)", f"`{tested}`"))
    for key, label in (("raw", "raw data md5"), ("train", "train split md5"), ("test", "holdout md5")):
        if path(key).exists():
            lineage.append((label, f"`{file_md5(path(key))}` ({paths[key]})"))
    if model_md5:
        lineage += [
            ("model md5", f"`{model_md5}` ({paths['model']})"),
            ("MLflow run", _mlflow_run(experiment, model_md5)),
        ]
    return render.ReportInputs(
        base=base_label,
        candidate=f"`{head_sha[:7]}`",
        stages=stages,
        not_reproduced=missing,
        params=dvc_cli.params_diff(base_sha, root),
        metrics=metrics,
        gates=gates,
        validation=validation,
        slices=slices,
        plots=plots,
        lineage=lineage,
    )


def run(
    params: Path,
    base: str,
    out: Path,
    pr: int | None,
    head: str | None = None,
    root: Path = Path(),
) -> int:
    from mlops.params import load_params

    experiment = load_params(params).project.name
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        inputs = gather(base, build, root.resolve(), experiment, head)
        write_text(render.build(inputs), build / "report.md")
        if pr is not None:
            write_json({"pr": pr, "base": base}, build / META)
        shutil.rmtree(out, ignore_errors=True)
        build.replace(out)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    print(f"report: {render.headline(inputs)} -> {out / 'report.md'} ({len(inputs.plots)} plots)")
    return 0
