"""`mlops init` (make init): make the template yours from a sample of your own CSV or Parquet file.

detect.py (how the file reads), draft.py (the contract draft and its YAML), edit.py (textual YAML edits,
comments kept), reset.py (the params.yaml keys and deploy records init resets), baseline.py (the quick
baseline, floors, single-feature AUCs), command.py (`run`: the I/O edge and the report). Everything but
command.py is pure: frames and text in, text and dicts out.
"""
