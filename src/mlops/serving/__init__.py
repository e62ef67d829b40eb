"""Serving: the BentoML service, its contract-derived input schema, and the prediction log."""
