# demo-search on NVIDIA GPUs: a Ray worker node that hosts vLLM engine actors. Build context: the repository
# root. No credential is baked in: the database URL and API keys arrive at run time as environment variables.
ARG CUDA_VERSION=12.8.1
FROM nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu22.04

# Must equal the head's Ray version; docker-compose.yml passes the same value to both images.
ARG RAY_VERSION=2.60.0

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL=minor \
    PATH=/opt/venv/bin:${PATH}

# Python 3.11 as on the head (Ubuntu 22.04 ships 3.10). Triton, which vLLM uses, compiles small launchers at
# run time: it needs a C compiler and the Python headers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends software-properties-common gpg-agent \
    && add-apt-repository -y ppa:deadsnakes/ppa \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv python3.11-dev gcc \
    && rm -rf /var/lib/apt/lists/* \
    && python3.11 -m venv /opt/venv \
    && pip install --upgrade pip

RUN useradd --create-home --uid 1000 ray \
    && mkdir -p /home/ray/.cache/huggingface \
    && chown -R ray:ray /home/ray/.cache
WORKDIR /opt/demo-search

# Dependencies first, from pyproject.toml alone (no package directories yet), so editing the source only
# re-runs the last install below. vLLM brings the CUDA build of torch it was built against.
COPY pyproject.toml README.md ./
RUN pip install "ray[default]==${RAY_VERSION}" ".[gpu,postgres]"

COPY demo_search ./demo_search
COPY workers ./workers
COPY db ./db
RUN pip install --no-deps --force-reinstall .

USER ray
WORKDIR /home/ray
