# One image for every qc process; docker-compose.yml picks the process with
# `command` (gunicorn for a web service, `python -m services.<name>.worker`
# for its Kafka worker, `qc …` for operator jobs).
#
# 3.11 because the pinned secantusdb wheel is cp311 (the embedded dev stack
# is a hard dependency of the package even though compose does not use it).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app

# Only what the package needs: copying the whole context would also bake in
# .venv (host-built), var/ (demo data and credentials) and .git, which
# .dockerignore also keeps out of the build context.
COPY pyproject.toml ./
COPY qc ./qc
COPY qc_tools ./qc_tools
COPY services ./services
COPY schemas ./schemas
COPY deploy ./deploy

RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info

# Recordings of every question and answer, for Read aloud on phones with no
# voice: made here, once, for the question sets the image carries.
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends espeak-ng \
    && rm -rf /var/lib/apt/lists/* \
    && QC_SCHEMAS_DIR=/app/schemas QC_AUDIO_DIR=/app/var/audio python -m services.checks.web.recordings

# settings.py finds data files relative to the installed package, which is
# site-packages after a non-editable install; point it back at /app. Every
# path setting whose default is in the source tree needs a line here
# (tests/unit/test_deploy.py checks it).
ENV QC_SCHEMAS_DIR=/app/schemas \
    QC_AUDIO_DIR=/app/var/audio \
    QC_ALERT_RULES_PATH=/app/deploy/alert-rules.yaml \
    QC_THEMES_PATH=/app/deploy/themes.yaml \
    QC_WEBHOOKS_PATH=/app/deploy/webhooks.yaml \
    QC_VAR_DIR=/app/var \
    QC_BIND_HOST=0.0.0.0 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics

# Non-root. The metrics and var dirs exist in the image, owned by qc, so a
# fresh named volume mounted there inherits a writable owner.
RUN groupadd --system --gid 10001 qc \
    && useradd --system --uid 10001 --gid qc --home-dir /app --no-create-home qc \
    && mkdir -p /app/var /tmp/metrics \
    && chown qc:qc /app/var /tmp/metrics
USER qc

CMD ["qc", "--help"]
