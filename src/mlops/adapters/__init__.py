"""Adapters: the only modules that import the churny third-party tools, one module each: gx (Great
Expectations), tracking (MLflow), bento (BentoML), evidently. Also here: vega (vl-convert), browser
(headless Chromium) and dvc_cli (the `dvc ... --json` diffs of the PR report).

One exception, by necessity: mlops.serving.service imports bentoml too, because a BentoML service is a
class built from BentoML's decorators (`@bentoml.service`, `@bentoml.api`); its model-store reads still
go through mlops.adapters.bento.
"""
