"""mlops: GitOps MLOps template package."""
