"""Shipping a gated model: records in git, packaging, local and Kubernetes targets, smoke tests, promotion."""
