"""The `mlops` console script: one subcommand per pipeline stage or operation.

Stage modules are imported only when their subcommand runs: every DVC stage is a fresh process, and
importing GX or MLflow where they are not needed would cost seconds per stage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

EXIT_USAGE = 2  # bad params, contract or input file: the message names it


def _add(sub: Any, name: str, help_text: str, *paths: str, params: bool = True) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    if params:
        parser.add_argument(
            "--params", type=Path, default=Path("params.yaml"), help="params file (default: %(default)s)"
        )
    for flag in paths:
        parser.add_argument(f"--{flag}", type=Path, required=True)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops", description="GitOps MLOps template: pipeline stages and operations."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add(sub, "ingest", "Produce the raw dataset (generator or file).", "contract", "out")
    _add(
        sub,
        "validate",
        "Data gate: check the raw data against the contract.",
        "contract",
        "data",
        "report-json",
        "report-md",
        params=False,
    )
    _add(
        sub,
        "split",
        "Split validated data into train and holdout.",
        "contract",
        "data",
        "train-out",
        "test-out",
    )
    _add(sub, "train", "Fit the model pipeline and track it in MLflow.", "contract", "train", "model-out")
    _add(
        sub,
        "evaluate",
        "Holdout metrics, plot data and slices.",
        "contract",
        "test",
        "model",
        "metrics",
        "plots-dir",
        "slices",
    )
    _add(
        sub,
        "gate",
        "Promotion gates: fail unless the model is good, fair, robust, well-behaved and cheap enough.",
        "contract",
        "test",
        "model",
        "metrics",
        "production",
        "report-json",
        "report-md",
    )
    _add(
        sub,
        "summary",
        "Print headline metrics, the gate verdict and where the reports are.",
        "metrics",
        "gates",
        params=False,
    )
    _add_pr_and_package(sub)
    _add_monitoring(sub)
    _add_deploy(sub)
    return parser


def _add_pr_and_package(sub: Any) -> None:
    report = _add(sub, "report", "Pull-request report: diffs against a base revision, gates, plots.")
    report.add_argument("--base", required=True, help="git revision to compare with (e.g. origin/main)")
    report.add_argument("--out", type=Path, default=Path("reports/pr"), help="folder (default: %(default)s)")
    report.add_argument("--pr", type=int, default=None, help="pull-request number, recorded for pr-comment")
    report.add_argument("--head", default=None, help="the PR's head commit (the checkout may be a merge)")
    target = _add(
        sub,
        "pr-target",
        "Check a downloaded report artifact; print `pr=<number>` for $GITHUB_OUTPUT.",
        "artifact",
        params=False,
    )
    target.add_argument("--expect-pr", default=None, help="PR number of the run's head commit")
    stage = _add(
        sub,
        "pr-stage",
        "Copy report.md and the PNGs it shows into a fresh folder for CML; print dir=, publish=, ...",
        "artifact",
        "out",
        params=False,
    )
    stage.add_argument("--images", default="", help="PR_REPORT_IMAGES: public, none or url:https://<host>")
    stage.add_argument("--private", default="true", help="github.event.repository.private (true|false)")
    stage.add_argument("--run-url", default="", help="the model-pr run's page (images=none links to it)")
    preview = _add(
        sub,
        "report-preview",
        "Render report.md as GitHub would in headless Chromium; fail if a table or image does not show.",
        "report",
        params=False,
    )
    preview.add_argument("--png", type=Path, default=None, help="also save a screenshot here")
    _add(
        sub,
        "package",
        "Package the gated model as a BentoML model and bento, exported to --out (refuses ungated models).",
        "contract",
        "model",
        "gates",
        "test",
        "out",
    )


def _add_monitoring(sub: Any) -> None:
    drift = sub.add_parser("drift", help="Prediction-log drift vs training data (exit 3 on drift).")
    drift.add_argument("--params", type=Path, default=Path("params.yaml"))
    drift.add_argument("--contract", type=Path, default=Path("data/contract.yaml"))
    drift.add_argument("--log-dir", type=Path, required=True, help="predictions-*.jsonl folder")
    drift.add_argument("--reference", type=Path, default=Path("data/processed/train.parquet"))
    drift.add_argument("--model", type=Path, default=Path("models/model.joblib"))
    drift.add_argument("--metrics", type=Path, default=Path("reports/metrics.json"))
    drift.add_argument("--production", type=Path, default=Path("deploy/production.yaml"))
    drift.add_argument("--out", type=Path, default=Path("reports/drift"))
    body = sub.add_parser("drift-issue-body", help="Markdown of the drift issue from drift.json.")
    body.add_argument("--summary", type=Path, default=Path("reports/drift/drift.json"))
    body.add_argument("--out", type=Path, default=Path("reports/drift/issue.md"))
    body.add_argument("--run-url", default=None)
    shot = sub.add_parser("screenshot", help="PNG of a local HTML page in headless Chromium.")
    shot.add_argument("--html", type=Path, required=True)
    shot.add_argument("--png", type=Path, required=True)
    fetch = sub.add_parser("fetch-log", help="Copy prediction and feedback logs from an fsspec URL.")
    fetch.add_argument("--url", required=True)
    fetch.add_argument("--out", type=Path, required=True)
    refresh = sub.add_parser("refresh-data", help="Labelled production window -> a training extract.")
    refresh.add_argument("--params", type=Path, default=Path("params.yaml"))
    refresh.add_argument("--contract", type=Path, default=Path("data/contract.yaml"))
    refresh.add_argument("--log-dir", type=Path, required=True)
    refresh.add_argument("--out", type=Path, default=Path("data/extract/labelled.parquet"))
    refresh.add_argument("--min-rows", type=int, default=5000)
    refresh.add_argument("--set-source", action="store_true", help="point params.yaml ingest.source at --out")
    simulate = sub.add_parser("simulate", help="Send generated (shifted) traffic to a local service.")
    simulate.add_argument("--url", required=True, help="e.g. http://127.0.0.1:3200")
    simulate.add_argument("--rows", type=int, default=5000)
    simulate.add_argument("--shift", choices=("none", "covariate", "concept", "both"), default="none")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--feedback", action="store_true", help="also post the true labels to /feedback")


def _add_deploy(sub: Any) -> None:
    envs = ("staging", "production")
    deploy = sub.add_parser("deploy", help="Deploy an environment (staging: the current gated model).")
    deploy.add_argument("--env", choices=envs, required=True)
    deploy.add_argument("--target", choices=("local", "kubernetes"), default="local")
    deploy.add_argument("--params", type=Path, default=Path("params.yaml"))
    deploy.add_argument("--contract", type=Path, default=Path("data/contract.yaml"))
    deploy.add_argument("--model", type=Path, default=Path("models/model.joblib"))
    deploy.add_argument("--test", type=Path, default=Path("data/processed/test.parquet"))
    deploy.add_argument(
        "--p95-ms", type=float, default=None, help="smoke latency budget, ms (deploy.smoke_p95_ms)"
    )
    deploy.add_argument("--image", default=None, help="staging: the image to record")
    smoke = sub.add_parser("smoke", help="Smoke-test a deployed environment (golden requests, latency).")
    smoke.add_argument("--env", choices=envs, required=True)
    smoke.add_argument("--p95-ms", type=float, default=None, help="default: params deploy.smoke_p95_ms")
    smoke.add_argument("--params", type=Path, default=Path("params.yaml"))
    sub.add_parser("promote", help="Write deploy/production.yaml from deploy/staging.yaml.")
    plan = sub.add_parser("production-plan", help="Print deploy=true|false: does this run deploy production?")
    plan.add_argument("--event", required=True, help="github.event_name (push | workflow_dispatch)")
    plan.add_argument("--before", default="", help="github.event.before: the push's previous head")
    rollback = sub.add_parser("rollback", help="Restore deploy/<env>.yaml to its previous state in git.")
    rollback.add_argument("--env", choices=envs, required=True)
    aliases = sub.add_parser("aliases", help="Set the MLflow alias from deploy/<env>.yaml.")
    aliases.add_argument("--env", choices=envs, required=True)
    aliases.add_argument("--params", type=Path, default=Path("params.yaml"))
    promotion = sub.add_parser("promotion-report", help="Markdown body of the promotion pull request.")
    promotion.add_argument("--out", type=Path, default=Path("reports/promotion.md"))
    stop = sub.add_parser("stop", help="Stop an environment's local server.")
    stop.add_argument("--env", choices=envs, required=True)


def _smoke_budget(args: argparse.Namespace) -> float:
    """--p95-ms, else params.yaml's deploy.smoke_p95_ms (read only by the commands that smoke-test)."""
    if args.p95_ms is not None:
        return float(args.p95_ms)
    from mlops.params import DeployParams, load_section

    return load_section(args.params, "deploy", DeployParams).smoke_p95_ms


def _deploy(args: argparse.Namespace) -> Callable[[], int]:
    from mlops.deploy import command, local, promotion

    return {
        "deploy": lambda: command.run_deploy(
            args.env,
            args.target,
            args.params,
            args.contract,
            args.model,
            args.test,
            _smoke_budget(args),
            args.image,
        ),
        "smoke": lambda: local.run_smoke(args.env, _smoke_budget(args)),
        "promote": promotion.run_promote,
        "production-plan": lambda: promotion.run_production_plan(args.event, args.before),
        "rollback": lambda: promotion.run_rollback(args.env),
        "stop": lambda: local.run_stop(args.env),
        "aliases": lambda: promotion.run_aliases(args.env, args.params),
    }[args.command]


def _preview(report: Path, png: Path | None) -> int:
    from mlops.adapters.browser import preview

    result = preview(report, png)
    page = report.with_suffix(".html")
    print(f"report-preview: {result.tables} tables, {len(result.images)} images ({page})")
    if result.tables == 0 or result.broken_images:
        broken = result.broken_images
        print(f"report-preview: FAILED: tables={result.tables}, images not loaded: {broken}", file=sys.stderr)
        return 1
    return 0


# Commands that are not pipeline stages: (module, function, argument names), imported only when called.
OPERATIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "summary": ("mlops.summary", "run", ("metrics", "gates")),
    "pr-target": ("mlops.pr.artifact", "run", ("artifact", "expect_pr")),
    "pr-stage": ("mlops.pr.artifact", "run_stage", ("artifact", "out", "images", "private", "run_url")),
    "promotion-report": ("mlops.deploy.promotion_report", "run", ("out",)),
    "package": ("mlops.deploy.package", "run", ("params", "contract", "model", "gates", "test", "out")),
    "drift": (
        "mlops.monitoring.command",
        "run",
        ("params", "contract", "log_dir", "reference", "model", "metrics", "production", "out"),
    ),
    "drift-issue-body": ("mlops.monitoring.command", "run_issue_body", ("summary", "out", "run_url")),
    "screenshot": ("mlops.adapters.browser", "run_screenshot", ("html", "png")),
    "fetch-log": ("mlops.monitoring.command", "run_fetch", ("url", "out")),
    "refresh-data": (
        "mlops.monitoring.refresh",
        "run",
        ("params", "contract", "log_dir", "out", "min_rows", "set_source"),
    ),
    "simulate": ("mlops.monitoring.simulate", "run", ("url", "rows", "shift", "seed", "feedback")),
}
DEPLOY_COMMANDS = ("deploy", "smoke", "promote", "production-plan", "rollback", "stop", "aliases")


def _operation(args: argparse.Namespace) -> Callable[[], int] | None:
    a = vars(args)
    if args.command in OPERATIONS:
        module, function, names = OPERATIONS[args.command]
        return lambda: int(getattr(importlib.import_module(module), function)(*(a[n] for n in names)))
    if args.command == "report-preview":
        return lambda: _preview(args.report, args.png)
    if args.command in DEPLOY_COMMANDS:
        return _deploy(args)
    return None


def _dispatch(args: argparse.Namespace) -> Callable[[], int]:
    """Map a parsed command to its stage's run(), importing that stage only."""
    operation = _operation(args)
    if operation is not None:
        return operation
    name = "mlops.pr.gather" if args.command == "report" else f"mlops.stages.{args.command}"
    module = importlib.import_module(name)
    calls: dict[str, Callable[[], int]] = {
        "ingest": lambda: module.run(args.params, args.contract, args.out),
        "validate": lambda: module.run(args.contract, args.data, args.report_json, args.report_md),
        "split": lambda: module.run(args.params, args.contract, args.data, args.train_out, args.test_out),
        "train": lambda: module.run(args.params, args.contract, args.train, args.model_out),
        "evaluate": lambda: module.run(
            args.params, args.contract, args.test, args.model, args.metrics, args.plots_dir, args.slices
        ),
        "gate": lambda: module.run(
            args.params,
            args.contract,
            args.test,
            args.model,
            args.metrics,
            args.production,
            args.report_json,
            args.report_md,
        ),
        "report": lambda: module.run(args.params, args.base, args.out, args.pr, args.head),
    }
    return calls[args.command]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from mlops.contract import ContractError
    from mlops.io import InputError
    from mlops.params import ParamsError

    try:
        return _dispatch(args)()
    except (ContractError, ParamsError, InputError) as exc:
        print(f"mlops {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
