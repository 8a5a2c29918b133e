# The dunning image: every service of docker-compose.yml runs it with a different command.
#
# Stage "build" makes the runtime wheel: dunning without dunning.testing (fake providers,
# the pytest plugin) and dunning.examples (DUNNING_BUILD=runtime, see setup.py). Stage
# "runtime" installs that wheel, with the OpenTelemetry extra, at the versions
# constraints.txt pins, into a slim image that runs as a user without privileges.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml setup.cfg setup.py README.md LICENSE constraints.txt ./
COPY core core
COPY channels channels
COPY plugins plugins
COPY templates templates
RUN DUNNING_BUILD=runtime pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /tmp/wheels
COPY --from=build /src/constraints.txt /tmp/constraints.txt
RUN set -eu; \
    wheel="$(ls /tmp/wheels/dunning-*.whl)"; \
    pip install --constraint /tmp/constraints.txt "dunning[otel] @ file://${wheel}"; \
    rm -rf /tmp/wheels /tmp/constraints.txt; \
    useradd --system --create-home --uid 10001 dunning
USER dunning
WORKDIR /home/dunning
# 8000: the API (dunning serve); 9191: a worker's or scheduler's --metrics-port.
EXPOSE 8000 9191
# Store reachable at the current schema, broker reachable; compose adds each service's own endpoint.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["dunning", "health"]
CMD ["dunning", "--help"]
