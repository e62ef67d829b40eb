"""Shipping a gated model: records in git, packaging, local and Kubernetes targets, smoke tests, promotion."""

from typing import Literal

# The environments, in promotion order: staging follows main, production follows its merged record. Here,
# not in records.py, so the CLI can offer them as choices without importing pydantic or pandas.
Environment = Literal["staging", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("staging", "production")
