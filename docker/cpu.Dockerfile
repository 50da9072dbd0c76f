# demo-search on CPU: the Ray head node (it runs the search driver submitted as a Ray Job and hosts no GPU actors)
# and the one-shot `demo-search db upgrade` of docker-compose.yml. Build context: the repository root.
# No credential is baked in: the database URL arrives at run time in $DEMO_SEARCH_DB.
FROM python:3.11-slim-bookworm

# Ray refuses nodes whose Ray version differs from the head's; docker-compose.yml passes the same value to both images.
ARG RAY_VERSION=2.60.0
# torch's CPU build, so the head does not pull several GB of CUDA wheels it would never use.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL=minor

RUN useradd --create-home --uid 1000 ray \
    && mkdir -p /home/ray/.cache/huggingface \
    && chown -R ray:ray /home/ray/.cache
WORKDIR /opt/demo-search

RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0

# Dependencies first, from pyproject.toml alone (no package directories yet), so editing the source only
# re-runs the last install below.
COPY pyproject.toml README.md ./
RUN pip install "ray[default]==${RAY_VERSION}" ".[search,postgres]"

COPY demo_search ./demo_search
COPY workers ./workers
COPY db ./db
RUN pip install --no-deps --force-reinstall .

USER ray
WORKDIR /home/ray
