# Serving image for the project's bento. Built only in GitHub Actions (no Docker engine on the project
# machines), from the repository root, after `make package` has written dist/<project>.bento; `make image`
# passes PROJECT (params.yaml project.name). CMD cannot expand a build arg: tests/unit/test_dockerfile.py
# fails when its tag, or the PROJECT default, names another project than params.yaml.
# Linted locally with `hadolint --no-color Dockerfile` (tests/unit/test_dockerfile.py).
#
# Needs BuildKit (the default builder of docker/build-push-action and of Docker >= 23) for `RUN --mount`.
# No `# syntax=` line on purpose: the built-in frontend supports everything used here, and a syntax line
# would pull an unpinned frontend image at build time.

# One base for both stages: the venv built in the first stage points at this exact interpreter
# (/usr/local/bin/python3.11). Tag AND digest: the tag says what it is, the digest makes a rebuild
# byte-identical (a tag moves with every Debian security update). The digest is the multi-platform
# manifest of python:3.11.13-slim-bookworm as pinned in several public repositories; bump both together.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1

# ---------------------------------------------------------------------------------------------------
# builder: the locked serving dependencies, then the project without its dependencies, into /opt/venv
# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# UV_PROJECT_ENVIRONMENT: build the venv at the path it has at run time (venvs are not relocatable).
# UV_COMPILE_BYTECODE: ship .pyc files; the container's root filesystem is read-only in Kubernetes, so
#   Python could never write them and would recompile every import on every start.
# UV_LINK_MODE=copy: the uv cache and the venv are on different filesystems in a build; copy, don't warn.
# UV_PYTHON_DOWNLOADS=never: use the base image's interpreter, never a downloaded one.
# UV_NO_CACHE: the builder stage is thrown away, a cache would only slow the layer export.
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1

WORKDIR /build

# Dependencies first, from the lock only: this layer is reused until pyproject.toml or uv.lock change,
# so a code change rebuilds in seconds. --frozen: fail rather than re-resolve if the lock is stale.
COPY pyproject.toml uv.lock ./
# uv from PyPI, as the Makefile installs it: no second image to pin. Its version has one source, the
# `required-version = "==X"` line of pyproject.toml's [tool.uv] (the Makefile reads the same line).
RUN pip install --no-cache-dir --disable-pip-version-check \
        "uv==$(sed -n 's/^required-version *= *"==\([^"]*\)".*/\1/p' pyproject.toml)"
# Only what the service imports: pyproject.toml's `serving` dependency group, at the versions uv.lock pins
# for the whole project. --only-group leaves out the project and its [project.dependencies] (the
# pipeline's DVC, MLflow, GX and Evidently: ~1.3 GB installed, the serving group ~450 MB; budget 550 MB,
# benchmarks/env_size.py and tests/serving/test_serving_env.py).
RUN uv sync --frozen --only-group serving

# Then the project itself, as a regular (non-editable) package inside /opt/venv, so the runtime stage
# needs no source tree. --no-deps: its [project.dependencies] are the full pipeline stack; what serving
# needs of them is already in. README.md is read by the build backend (project.readme).
COPY README.md ./
COPY src ./src
RUN uv pip install --python /opt/venv/bin/python --no-deps .

# ---------------------------------------------------------------------------------------------------
# runtime: the venv, the imported bento, a non-root user
# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# The project's name (params.yaml project.name): `make image` passes it; no default, so the name lives in
# params.yaml only and a build without it stops here with the reason.
ARG PROJECT
RUN [ -n "${PROJECT}" ] || { echo "build with --build-arg PROJECT=<params.yaml project.name> (make image)" >&2; exit 1; }

LABEL org.opencontainers.image.title="${PROJECT}" \
      org.opencontainers.image.description="BentoML service for the ${PROJECT} model"

# PYTHONDONTWRITEBYTECODE: the .pyc files were compiled in the builder; never try to write more.
# BENTOML_HOME: the bento store, owned by the service user and filled at build time (below).
# MLOPS_PREDICTION_LOG_DIR: where the service writes its rotating JSONL prediction log; Kubernetes
#   mounts a volume here (must match mlops.deploy.manifests.PREDICTION_LOG_DIR).
# Telemetry off: the image must not phone home from a cluster.
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BENTOML_HOME=/opt/bentoml \
    BENTOML_DO_NOT_TRACK=true \
    DO_NOT_TRACK=true \
    MLOPS_PREDICTION_LOG_DIR=/var/lib/mlops/predictions \
    MLOPS_PROJECT=${PROJECT} \
    MLOPS_BENTO=${PROJECT}:latest

# A fixed UID/GID (10001, above any host range) so Kubernetes can check runAsNonRoot/runAsUser against
# the image, and volume ownership is predictable. --no-log-init: a high UID otherwise makes useradd
# write a sparse but huge /var/log/faillog (hadolint DL3046).
RUN groupadd --system --gid 10001 mlops \
    && useradd --system --no-log-init --uid 10001 --gid 10001 --home-dir /home/mlops --create-home \
       --shell /usr/sbin/nologin mlops \
    && mkdir -p /opt/bentoml /var/lib/mlops/predictions \
    && chown 10001:10001 /opt/bentoml /var/lib/mlops/predictions

# Owned by root: the service user can run the code but not change it.
COPY --from=builder /opt/venv /opt/venv

USER 10001:10001
WORKDIR /home/mlops

# Import the exported bento (service code + model) into BENTOML_HOME at build time, so the container
# starts without any network or store access. A bind mount instead of COPY: the .bento archive is read
# once and never lands in a layer (COPY + rm would still ship it).
RUN --mount=type=bind,source=dist/${PROJECT}.bento,target=/tmp/${PROJECT}.bento \
    bentoml import /tmp/${PROJECT}.bento

EXPOSE 3000

# For `docker run` / compose only: Kubernetes ignores HEALTHCHECK and uses the probes of mlops.deploy.manifests.
# Slim images have no curl; urllib raises (exit 1) on a refused connection or any non-2xx status.
# start-period: importing the stack and loading the model takes seconds.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/readyz', timeout=4)"]

# Exec form, and `exec` inside: bentoml replaces the shell as PID 1 and receives SIGTERM directly (its
# process manager stops the workers gracefully); a plain shell form would swallow the signal and the pod
# would be killed after the grace period. The shell only expands MLOPS_BENTO (the bento's tag, from the
# build arg: an exec-form CMD cannot expand a variable); CMD's flags arrive as "$@".
ENTRYPOINT ["/bin/sh", "-c", "exec bentoml serve \"$MLOPS_BENTO\" \"$@\"", "bentoml"]
CMD ["--host", "0.0.0.0", "--port", "3000"]
