# storywire worker and CLI. It talks to an external Kafka (STORYWIRE_BROKER); the local
# Maven-fetched broker of streams/broker.py is for machines without Docker.
#   docker compose up            (see docker-compose.yml)
#   docker build -t storywire . && docker run --rm -e STORYWIRE_BROKER=host:9092 storywire
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies and package first, seed articles last: editing seeds does not reinstall.
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
RUN pip install . \
    && useradd --create-home --uid 10001 storywire \
    && mkdir -p /data \
    && chown storywire /data
COPY seeds ./seeds

USER storywire
# Worker state (faust tables' local store) lives here; docker-compose mounts a volume on it.
ENV STORYWIRE_HOME=/data
VOLUME ["/data"]

CMD ["storywire", "worker"]
