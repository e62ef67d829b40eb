"""The pull-request report: gather facts (git, DVC, reports), render markdown, check the artifact for CML."""
