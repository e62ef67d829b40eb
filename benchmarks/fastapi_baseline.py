"""The serving benchmark's baseline: the same packaged model behind the smallest FastAPI app that serves it.

It loads the very BentoML model folder the bento serves (`mlops.adapters.bento.model(tag).path`, through
`mlops.serving.runtime.load_packaged`) and scores with the same `LoadedModel.proba` on a one-row
DataFrame, so the only difference from the BentoML service is the serving layer: no request schema, no
micro-batching, no prediction log, no metrics. POST /predict takes the same body shape,
{"record": {...}}, and answers {"probability": p, "predicted": 0|1}; GET /readyz answers 200 once loaded.

Run: `BENTOML_HOME=.bentoml .venv/bin/python benchmarks/fastapi_baseline.py --port 3001 --model-tag TAG`
(uvicorn, one worker, access log off). `benchmarks/serving.py` starts it beside `bentoml serve`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import pandas as pd
import uvicorn
from fastapi import FastAPI

from mlops.serving.runtime import LoadedModel, load_packaged


def load(tag: str) -> LoadedModel:
    """The packaged model exactly as the service loads it (same folder, same loader, same threshold)."""
    from mlops.adapters import bento

    model = bento.model(tag)
    return load_packaged(model.path, model.tag, model.metadata)


def create_app(loaded: LoadedModel) -> FastAPI:
    app = FastAPI(title="baseline", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ok", "model_version": loaded.version}

    # A plain `def`: FastAPI runs it in its thread pool, the idiomatic way to serve a blocking model call.
    @app.post("/predict")
    def predict(body: dict[str, Any]) -> dict[str, Any]:
        p = float(loaded.proba(pd.DataFrame.from_records([body["record"]]))[0])
        return {"probability": p, "predicted": int(p >= loaded.threshold)}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument(
        "--model-tag",
        default=os.environ.get("MLOPS_MODEL_TAG"),
        help="BentoML model tag (default: $MLOPS_MODEL_TAG)",
    )
    args = parser.parse_args(argv)
    if not args.model_tag:
        parser.error("--model-tag is required (or set MLOPS_MODEL_TAG)")
    app = create_app(load(args.model_tag))
    uvicorn.run(app, host=args.host, port=args.port, workers=1, access_log=False, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
