"""Stage edges: exactly the six dvc.yaml stages (ingest, validate, split, train, evaluate, gate), one module
each; each reads params and files, calls pure functions, writes. Commands outside the DVC graph (package,
deploy, drift, the PR report) live in mlops.deploy, mlops.monitoring and mlops.pr."""
