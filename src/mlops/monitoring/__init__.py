"""Monitoring: drift of logged predictions against the training data, concept drift from fed-back labels,
generated traffic for demos and tests, and the labelled extract a retrain learns from."""
