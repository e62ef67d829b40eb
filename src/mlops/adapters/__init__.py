"""Adapters: the only modules that import the churny third-party tools (GX, MLflow, BentoML, Evidently)."""
