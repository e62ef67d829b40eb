"""Promotion gates: pure checks that a candidate model must pass before anyone may promote it.

Each module holds one gate family and returns `GateResult`s; `result.py` turns them into the checklist.
"""
