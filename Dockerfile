# faqbot, one bot per container:
#   docker build -t faqbot .
#   docker run -d -v faqbot-state:/state -e FAQBOT_DISCORD_TOKEN=... faqbot run discord
# Your own knowledge: -v "$PWD/knowledge:/app/knowledge:ro". Settings: FAQBOT_* variables, or a
# TOML file mounted and named by FAQBOT_CONFIG (see examples/faqbot.toml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FAQBOT_KNOWLEDGE=/app/knowledge \
    FAQBOT_STATE_DIR=/state

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY faqbot ./faqbot
# The bundled knowledge is part of the package (faqbot/bundled_knowledge) and the default here.
COPY knowledge ./knowledge
# The package installed is this checkout; its dependencies are bounded in pyproject.toml.
# hadolint ignore=DL3013
RUN pip install ".[discord,matrix]"

# A fixed, numeric, unprivileged user, so volume ownership is predictable on any host.
RUN groupadd --gid 10001 faqbot \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /state --shell /usr/sbin/nologin faqbot \
    && mkdir -p /state \
    && chown 10001:10001 /state \
    && chmod 0700 /state
USER 10001:10001

VOLUME ["/state"]
# The running bot refreshes /state/heartbeat.json every 15 s; `faqbot health` fails when it is
# stale, still starting after the start period, or degraded (e.g. it cannot save its sync position).
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 CMD ["faqbot", "health"]
ENTRYPOINT ["faqbot"]
CMD ["console"]
