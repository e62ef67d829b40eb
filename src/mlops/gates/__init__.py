"""Promotion gates: pure checks that a candidate model must pass before anyone may promote it.

Each family module (performance, robustness, behaviour, fairness, operational, champion) checks one gate
family and returns `GateResult`s; `suite.py` runs the enabled families in order, and `result.py` turns
their results into the verdict and the checklist.
"""
