"""The workflows' CI steps (`mlops <step>`, one make target each): what used to be shell programs in the
Makefile. Each module keeps its decisions in pure functions (tests/unit/test_ci_commands.py) and calls git,
gh, dvc and docker through `shell` only; `GH` and `PUSH_URL` come in as flags so that tests point them at a
fake `gh` and a local bare repository, as the act world does (tests/workflows/act/bin/gh).

Contract of every step: `key=value` lines for $GITHUB_OUTPUT, and nothing else, on stdout when the workflow
collects them; `::notice`/`::warning`/`::error` workflow commands on stderr.
"""
