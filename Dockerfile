# syntax=docker/dockerfile:1
# storywire worker and CLI. It talks to an external Kafka (STORYWIRE_BROKER); the local
# Maven-fetched broker of streams/tools/broker.py is for machines without Docker.
#   docker compose up            (see docker-compose.yml)
#   docker build -t storywire . && docker run --rm -e STORYWIRE_BROKER=host:9092 storywire

# The package has a C extension (streams/pipeline/_kernels.c), and the slim image has no compiler: wheels are
# built here, with one, and only they go into the image below.
FROM python:3.11-slim AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Package and dependencies first, seed articles last: editing seeds does not reinstall. The wheels are mounted
# from the build stage, not copied: a copied layer would keep them in the image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels storywire \
    && useradd --create-home --uid 10001 storywire \
    && mkdir -p /data \
    && chown storywire /data
COPY seeds ./seeds

USER storywire
# Worker state (faust tables' local store) lives here; docker-compose mounts a volume on it.
ENV STORYWIRE_HOME=/data
VOLUME ["/data"]

CMD ["storywire", "worker"]
