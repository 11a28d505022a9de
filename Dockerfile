# watcher as a container: `watcher run` by default, state in the /app/state volume.
#
#   docker build -t watcher .
#   docker run -d -v watcher-state:/app/state --env-file .env -p 8080:8080 watcher
#
# Both stages use the same pinned base, so the venv's interpreter path
# (/usr/local/bin/python) exists in the final image.

FROM python:3.11.17-slim-bookworm AS builder

# Optional PEM text of extra CA certificates, for builds behind a TLS-intercepting
# proxy: docker build --build-arg PIP_CERT_BUNDLE="$(cat corp-ca.pem)" .
# pip then trusts the base image's CA bundle plus these. Used only in this stage;
# the final image never sees them.
ARG PIP_CERT_BUNDLE=""

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN python -m venv /opt/venv \
    && if [ -n "$PIP_CERT_BUNDLE" ]; then \
        { cat /etc/ssl/certs/ca-certificates.crt; printf '%s\n' "$PIP_CERT_BUNDLE"; } \
            > /opt/build-ca.pem; \
    fi

WORKDIR /src

# The lock file first: the dependency layer is rebuilt only when the lock changes.
COPY requirements/runtime.txt requirements/runtime.txt
RUN if [ -n "$PIP_CERT_BUNDLE" ]; then export PIP_CERT=/opt/build-ca.pem; fi \
    && /opt/venv/bin/pip install --require-hashes -r requirements/runtime.txt

COPY pyproject.toml README.md ./
COPY watcher/ watcher/
RUN if [ -n "$PIP_CERT_BUNDLE" ]; then export PIP_CERT=/opt/build-ca.pem; fi \
    && /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/watcher --version


FROM python:3.11.17-slim-bookworm

# A fixed numeric uid, so volume ownership and `runAsUser` policies do not depend on
# a name lookup.
RUN groupadd --gid 10001 watcher \
    && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home --home-dir /app \
        --shell /usr/sbin/nologin watcher \
    && mkdir -p /app/state \
    && chown 10001:10001 /app/state

COPY --from=builder /opt/venv /opt/venv
COPY sources.yaml /app/sources.yaml

# The endpoints (/healthz, /readyz, /metrics, /status) listen on all interfaces inside
# the container; publish the port only where you want it seen.
ENV PATH=/opt/venv/bin:$PATH \
    WATCHER_CONFIG=/app/sources.yaml \
    WATCHER_STATE=/app/state \
    WATCHER_HTTP_HOST=0.0.0.0 \
    WATCHER_HTTP_PORT=8080 \
    PYTHONUNBUFFERED=1

WORKDIR /app
# Declared after the chown: a new named volume starts as a copy of this directory,
# owned by the watcher user.
VOLUME /app/state
USER 10001:10001
EXPOSE 8080

# Slim images have no curl: ask python's stdlib. urlopen raises (exit 1) on a refused
# connection, a timeout or an HTTP error status.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('WATCHER_HTTP_PORT', '8080'), timeout=4)"]

ENTRYPOINT ["watcher"]
CMD ["run"]
