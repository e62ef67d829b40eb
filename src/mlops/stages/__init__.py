"""Stage edges: one module per dvc.yaml stage; each reads params and files, calls pure functions, writes."""
