"""The `mlops` console script. Every command is declared once, in COMMANDS: its flags and the function it
calls, whose parameter names are the flag names (`--model-out` -> `model_out`); tests/unit/test_cli.py
holds every declaration to that.

A path flag left out takes its default from dvc.yaml `vars.paths` (mlops.paths), so the DVC stages, the
Makefile and the operations name each file once. A command's module is imported only when it runs: every
DVC stage is a fresh process, and importing GX or MLflow where they are not needed costs seconds.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.deploy import ENVIRONMENTS

EXIT_USAGE = 2  # bad params, contract, paths or input file: the message names it


@dataclass(frozen=True)
class Arg:
    """One flag: argparse's options, plus the dvc.yaml `vars.paths` name a path flag defaults to."""

    flag: str
    options: dict[str, Any] = field(default_factory=dict)
    path_key: str | None = None
    path_suffix: str = ""  # a file inside the declared folder (drift.json in reports/drift)

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    group: str
    target: str  # "module:function", called with one keyword argument per flag
    args: tuple[Arg, ...]

    def resolve(self) -> Callable[..., int]:
        module, function = self.target.split(":")
        handler: Callable[..., int] = getattr(importlib.import_module(module), function)
        return handler


def path(flag: str, key: str | None = None, suffix: str = "", help: str = "") -> Arg:
    """A path flag defaulting to dvc.yaml `vars.paths.<key>` (key: the flag's name with `_` for `-`)."""
    name = key or flag.replace("-", "_")
    shown = f"default: dvc.yaml paths.{name}" + (f"/{suffix}" if suffix else "")
    return Arg(f"--{flag}", {"type": Path, "help": f"{help}{' ' if help else ''}({shown})"}, name, suffix)


def opt(flag: str, **options: Any) -> Arg:
    return Arg(f"--{flag}", options)


PARAMS = path("params")
CONTRACT = path("contract")
ENV = opt("env", choices=ENVIRONMENTS, required=True)
GH = opt("gh", default="gh", help="the GitHub CLI to run (make's GH)")
PUSH_URL = opt("push-url", default="origin", help="where git pushes (make's PUSH_URL)")
P95 = opt("p95-ms", type=float, default=None, help="smoke latency budget, ms (default: deploy.smoke_p95_ms)")
# The local production server's prediction log (mlops.deploy.local: <deploy_state>/<env>/predictions).
LOG_DIR = path("log-dir", "deploy_state", "production/predictions", help="predictions-*.jsonl folder")

_C = Command
COMMANDS: tuple[Command, ...] = (
    # The DVC stages (dvc.yaml runs each as `mlops <stage>` with every path spelt out).
    _C("ingest", "Produce the raw dataset (generator or file).", "pipeline", "mlops.stages.ingest:run",
       (PARAMS, CONTRACT, path("out", "raw"))),
    _C("validate", "Data gate: check the raw data against the contract.", "pipeline",
       "mlops.stages.validate:run",
       (PARAMS, CONTRACT, path("data", "raw"), path("report-json", "validation"),
        path("report-md", "validation_md"))),
    _C("split", "Split validated data into train and holdout.", "pipeline", "mlops.stages.split:run",
       (PARAMS, CONTRACT, path("data", "raw"), path("validation"), path("train-out", "train"),
        path("test-out", "test"),
        path("report", "split_report"))),
    _C("train", "Fit the model pipeline and track it in MLflow.", "pipeline", "mlops.stages.train:run",
       (PARAMS, CONTRACT, path("train"), path("validation"), path("model-out", "model"))),
    _C("evaluate", "Holdout metrics, plot data and slices.", "pipeline", "mlops.stages.evaluate:run",
       (PARAMS, CONTRACT, path("test"), path("model"), path("metrics"), path("plots-dir", "plots"),
        path("slices"))),
    _C("gate", "Promotion gates: fail unless the model is good, fair, robust, well-behaved and cheap enough.",
       "pipeline", "mlops.stages.gate:run",
       (PARAMS, CONTRACT, path("test"), path("model"), path("metrics"), path("plots-dir", "plots"),
        path("slices"), path("production"), path("report-json", "gates"), path("report-md", "gates_md"))),
    _C("init", "Make the template yours: draft the contract and params for your CSV / Parquet file.",
       "pipeline", "mlops.onboarding.command:run",
       (PARAMS, CONTRACT, path("extracts"), path("staging"), path("production"),
        opt("data", type=Path, required=True, help="your .csv or .parquet file (a sample is enough)"),
        opt("target", required=True, help="the column to predict (two values)"),
        opt("positive", default=None, help="the target value that counts as positive (default: minority)"),
        opt("time", default=None, help="the time column (default: the first date column; `none`: no time)"),
        opt("names", default=None, help="a header-less file's column names, comma-separated"),
        opt("name", default=None, help="project.name (default: from the file name)"),
        opt("no-dvc", action="store_true", help="do not `dvc add` the file"),
        opt("force", action="store_true", help="replace a reviewed contract or a different extract"))),
    _C("path", "Print dvc.yaml vars.paths.<name> (how make reads a declared path).", "pipeline",
       "mlops.paths:run", (opt("name", required=True, help="a vars.paths key, e.g. deploy_state"),)),
    _C("summary", "Print headline metrics, the gate verdict and where the reports are.", "pipeline",
       "mlops.summary:run",
       (path("metrics"), path("gates"), path("gates-md", "gates_md"), path("validation-md", "validation_md"),
        path("slices"), path("plots"))),
    # The pull-request report (model-pr and pr-comment workflows).
    _C("report", "Pull-request report: diffs against a base revision, gates, plots.", "pull request",
       "mlops.pr.gather:run",
       (PARAMS, opt("base", required=True, help="git revision to compare with (e.g. origin/main)"),
        path("out", "pr_report"),
        opt("pr", type=int, default=None, help="pull-request number, for pr-comment"),
        opt("head", default=None, help="the PR's head commit (the checkout may be a merge)"))),
    _C("pr-target", "Check a downloaded report artifact; print `pr=<number>` for $GITHUB_OUTPUT.",
       "pull request", "mlops.pr.artifact:run",
       (opt("artifact", type=Path, required=True),
        opt("expect-pr", default=None, help="PR of the run's head commit"))),
    _C("pr-stage", "Copy report.md and the PNGs it shows into a fresh folder for CML; print dir=, "
       "publish=, ...", "pull request", "mlops.pr.artifact:run_stage",
       (opt("artifact", type=Path, required=True), opt("out", type=Path, required=True),
        opt("images", default="", help="PR_REPORT_IMAGES: public, none or url:https://<host>"),
        opt("private", default="true", help="github.event.repository.private (true|false)"),
        opt("run-url", default="", help="the model-pr run's page (images=none links to it)"))),
    _C("report-preview", "Render a report as GitHub would in headless Chromium; fail if a table or image "
       "does not show.", "pull request", "mlops.adapters.browser:run_preview",
       (path("report", "pr_report", "report.md"),
        path("png", "pr_report", "preview.png", help="also save a screenshot here"))),
    # Packaging and deployment (deploy workflow).
    _C("package", "Package the gated model as a BentoML model and bento, exported to --out (refuses ungated "
       "models).", "deploy", "mlops.deploy.package:run",
       (PARAMS, CONTRACT, path("model"), path("gates"), path("test"), path("out", "bento_export"))),
    _C("deploy", "Deploy an environment (staging: the current gated model; production: its record).",
       "deploy", "mlops.deploy.command:run",
       (ENV, opt("target", choices=("local", "kubernetes"), default="local"), PARAMS, CONTRACT,
        path("model"), path("gates"), path("test"), P95,
        opt("image", default=None, help="staging: the image to record"))),
    _C("schema", "Write the JSON schemas of params.yaml and the data contract (for editors).", "pipeline",
       "mlops.schemas:run", (path("out", "schemas"),)),
    _C("smoke", "Smoke-test a deployed environment (golden requests, latency).", "deploy",
       "mlops.deploy.local:run_smoke", (ENV, P95, PARAMS)),
    _C("promote", "Write deploy/production.yaml from deploy/staging.yaml.", "deploy",
       "mlops.deploy.promotion:run_promote", ()),
    _C("production-plan", "Print deploy=true|false: does this run deploy production?", "deploy",
       "mlops.deploy.promotion:run_production_plan",
       (opt("event", required=True, help="github.event_name (push | workflow_dispatch)"),
        opt("before", default="", help="github.event.before: the push's previous head"))),
    _C("rollback", "Restore deploy/<env>.yaml to its previous state in git.", "deploy",
       "mlops.deploy.promotion:run_rollback", (ENV,)),
    _C("aliases", "Set the MLflow alias from deploy/<env>.yaml.", "deploy",
       "mlops.deploy.promotion:run_aliases",
       (ENV, PARAMS, path("gates"), opt("server-only", action="store_true",
                         help="without $MLFLOW_TRACKING_URI (the embedded store): say so, do nothing"))),
    _C("promotion-report", "Markdown body of the promotion pull request.", "deploy",
       "mlops.deploy.promotion_report:run",
       (path("out", "promotion_report"), path("gates"), path("metrics"))),
    _C("stop", "Stop an environment's local server (graceful: its prediction log is flushed).", "deploy",
       "mlops.deploy.local:run_stop", (ENV,)),
    _C("k8s-render", "Render an environment's Kubernetes manifests into --out and validate them strictly.",
       "deploy",
       "mlops.deploy.manifests:run",
       (ENV, opt("image", required=True, help="image reference with a tag or @sha256 digest"),
        opt("model-version", default=None, help="default: <commit>-<md5> from deploy/<env>.yaml"),
        opt("out", type=Path, default=None, help="(default: dvc.yaml paths.deploy_state/<env>/k8s)"),
        PARAMS)),
    # Monitoring (drift and retrain workflows).
    _C("drift", "Prediction-log drift and model health vs training data and holdout (exit 3 on an alarm).",
       "monitor", "mlops.monitoring.command:run",
       (PARAMS, CONTRACT, LOG_DIR, path("reference", "train"), path("holdout", "test"), path("model"),
        path("production"), path("out", "drift"))),
    _C("drift-issue-body", "Markdown of the drift issue from drift.json.", "monitor",
       "mlops.monitoring.command:run_issue_body",
       (path("summary", "drift", "drift.json"), path("out", "drift", "issue.md"),
        opt("run-url", default=None))),
    _C("screenshot", "PNG of a local HTML page in headless Chromium.", "monitor",
       "mlops.adapters.browser:run_screenshot",
       (opt("html", type=Path, required=True), opt("png", type=Path, required=True))),
    _C("fetch-log", "Copy prediction and feedback logs from an fsspec URL.", "monitor",
       "mlops.monitoring.command:run_fetch",
       (opt("url", default=None, help="(default: $MLOPS_PREDICTION_LOG_URL)"),
        path("out", "deploy_state", "production/predictions"))),
    _C("refresh-data", "Labelled production window -> a training extract.", "monitor",
       "mlops.monitoring.refresh:run",
       (PARAMS, CONTRACT, LOG_DIR, path("out", "labelled_extract"),
        opt("min-rows", type=int, default=None, help="(default: params.yaml monitoring.retrain_min_rows)"),
        opt("set-source", action="store_true", help="point params.yaml ingest.source at --out"),
        opt("dvc-add", action="store_true", help="track --out with `dvc add` (git tracks its .dvc file)"))),
    _C("simulate", "Send (shifted) traffic to a local service: holdout rows, or the example generator.",
       "monitor", "mlops.monitoring.simulate:run",
       (opt("url", required=True, help="e.g. http://127.0.0.1:3200"), opt("rows", type=int, default=5000),
        opt("shift", choices=("none", "covariate", "concept", "both"), default="none"),
        opt("seed", type=int, default=7),
        opt("feedback", action="store_true", help="also post the true labels to /feedback"),
        opt("source", choices=("auto", "holdout", "synthetic"), default="auto",
            help="holdout rows, or the generator (auto: synthetic when ingest.source is)"),
        PARAMS, CONTRACT, path("test"))),
    # The workflows' CI steps (mlops.ci; each is one make target). Outputs for $GITHUB_OUTPUT on stdout,
    # workflow commands on stderr; --gh and --push-url let tests use a fake gh and a local bare repository.
    _C("pull-if-remote", "dvc pull when the default DVC remote is reachable; otherwise say so (exit 0).",
       "ci", "mlops.ci.remote:run_pull", ()),
    _C("push-if-remote", "dvc push when the default DVC remote is reachable; otherwise warn.", "ci",
       "mlops.ci.remote:run_push", ()),
    _C("pr-comment-target", "Print pr=<n> once the artifact names the open PR whose head is $HEAD_SHA "
       "(in $REPOSITORY).", "ci", "mlops.ci.pr:run_target",
       (opt("artifact", type=Path, required=True), GH)),
    _C("image-push", "docker push --image ($REGISTRY_USER / $REGISTRY_TOKEN); name@digest -> "
       ".deploy/image.ref.", "ci", "mlops.ci.deploy:run_image_push", (opt("image", required=True),)),
    _C("deploy-ci", "mlops deploy from CI (kubernetes when $KUBECONFIG_DATA is set); exit code -> "
       ".deploy/<env>/deploy.exit.", "ci", "mlops.ci.deploy:run_deploy_ci",
       (ENV, opt("image", default="", help="DEPLOY_IMAGE; staging: default .deploy/image.ref"))),
    _C("promotion-pr", "Write production from staging; open or update the promotion PR.", "ci",
       "mlops.ci.deploy:run_promotion_pr", (PUSH_URL, GH, opt("branch", default="promote/production"))),
    _C("revert-production", "After a failed production smoke test (exit 4): revert the record's change "
       "(never a revert) and push it, else a revert PR and an issue.", "ci",
       "mlops.ci.deploy:run_revert_production", (PUSH_URL, GH)),
    _C("drift-log", "Fetch $MLOPS_PREDICTION_LOG_URL into --log-dir; print log=true|false.", "ci",
       "mlops.ci.monitor:run_drift_log", (LOG_DIR,)),
    _C("drift-ci", "mlops drift for CI: print drift= and retrain=true|false; fail only on errors.", "ci",
       "mlops.ci.monitor:run_drift_ci",
       (LOG_DIR, PARAMS, CONTRACT, path("reference", "train"),
        path("holdout", "test"), path("model"), path("production"), path("out", "drift"))),
    _C("drift-issue", "Open or update the ONE open drift issue.", "ci", "mlops.ci.monitor:run_drift_issue",
       (path("summary", "drift", "drift.json"), path("out", "drift", "issue.md"),
        opt("run-url", default=None), GH)),
    _C("retrain-pr", "Commit the retrained pipeline on --branch, push it, open or update its PR.", "ci",
       "mlops.ci.monitor:run_retrain_pr", (PUSH_URL, GH, opt("branch", default="retrain/production"))),
)  # fmt: skip
BY_NAME = {c.name: c for c in COMMANDS}


def _options(arg: Arg) -> dict[str, Any]:
    """argparse's options, a plain flag's default shown in its help (path flags name their dvc.yaml key)."""
    options = dict(arg.options)
    default = options.get("default")
    shown = options.get("help", "")
    if default not in (None, False, "") and "default:" not in shown:
        options["help"] = f"{shown}{' ' if shown else ''}(default: {default})"
    return options


def build_parser() -> argparse.ArgumentParser:
    groups: dict[str, list[str]] = {}
    for command in COMMANDS:
        groups.setdefault(command.group, []).append(command.name)
    parser = argparse.ArgumentParser(
        prog="mlops",
        description="GitOps MLOps template: pipeline stages and operations.",
        epilog="\n".join(f"{group}: {', '.join(names)}" for group, names in groups.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        child = sub.add_parser(command.name, help=command.help, description=command.help)
        for arg in command.args:
            child.add_argument(arg.flag, dest=arg.dest, **_options(arg))
    return parser


def _with_path_defaults(command: Command, given: dict[str, Any]) -> dict[str, Any]:
    """Fill each path flag left out from dvc.yaml `vars.paths` (read only when one is left out)."""
    from mlops.paths import declared, lookup

    missing = [arg for arg in command.args if arg.path_key and given[arg.dest] is None]
    paths = declared() if missing else {}
    filled = {arg.dest: lookup(paths, arg.path_key) / arg.path_suffix for arg in missing if arg.path_key}
    return {**given, **filled}


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    command = BY_NAME[args.pop("command")]
    from mlops.contract import ContractError
    from mlops.io import InputError
    from mlops.params import ParamsError
    from mlops.paths import PathsError

    try:
        return int(command.resolve()(**_with_path_defaults(command, args)))
    except (ContractError, ParamsError, InputError, PathsError) as exc:
        print(f"mlops {command.name}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
