"""ci.yml, executed by act on a fresh checkout: `make ci` (tests first, pipeline, reproducibility, lint).

The job's test step runs the README-tree tests only (PYTEST_ARGS): the whole suite includes this test.
What the fresh checkout proves is that nothing the tests need is left over from an earlier command.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workflows.act.world import World

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("act")]
# The fresh-clone-sensitive tests (the README tree against the ignore files); the rest ran in this suite.
UNIT = {
    "PYTEST_ARGS": "tests/unit/test_readme.py",
    # make ci's team-scale step, without its servers: the README's recipes are there.
    "TEAMSCALE_ARGS": "tests/teamscale/test_team_scale.py::test_the_readme_names_every_recipe_the_suite_runs",
}


def test_ci_passes_on_a_fresh_checkout(world: World) -> None:
    sha = world.sha("refs/heads/main")
    run = world.act("ci.yml", "push", world.push_event("0" * 40, sha), env=UNIT)

    assert run.jobs == {"test": "success"}, run.log[-5000:]
    log = run.log
    assert " passed" in log and " failed" not in log
    assert "Running stage 'train'" in log  # the pipeline ran from nothing on the fresh checkout
    assert "actionlint: 0 finding(s)" in log


def test_ci_fails_on_a_fresh_checkout_whose_ignore_patterns_only_match_existing_folders(world: World) -> None:
    def trailing_slash(repo: Path) -> None:
        path = repo / ".gitignore"
        path.write_text(path.read_text().replace("/models\n", "/models/\n"))

    world.commit("main", "ignore models/ with a trailing slash", trailing_slash)
    run = world.act("ci.yml", "push", world.push_event("0" * 40, world.sha("refs/heads/main")), env=UNIT)

    assert run.jobs == {"test": "failure"}
    assert "test_every_untracked_tree_path_is_ignored_while_absent" in run.log
    assert "Running stage" not in run.log  # it stopped at the tests, before the pipeline
