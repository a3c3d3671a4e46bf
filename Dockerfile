# Greenroom: the Discord bot and its knowledge base, CPU only.
#   docker build -t greenroom .
#   docker run -e DISCORD_TOKEN=... -v greenroom-data:/data greenroom
# compose.yaml runs it beside a Chroma server.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    ANONYMIZED_TELEMETRY=False \
    GREENROOM_DATA_DIR=/data \
    GREENROOM_METRICS_ADDR=127.0.0.1:9464 \
    GREENROOM_LOG_FORMAT=json

# The user the bot runs as (uid 10001); it owns the data volume and nothing else.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/greenroom \
        --shell /usr/sbin/nologin greenroom \
    && mkdir /data \
    && chown greenroom:greenroom /data

WORKDIR /app
# The exact versions the tests ran with (requirements.lock). torch first, from the CPU index:
# the lock pins its CPU build (2.13.0+cpu), which PyPI does not serve.
COPY requirements.lock ./
RUN pip install --no-cache-dir --no-deps --index-url https://download.pytorch.org/whl/cpu \
        torch==2.13.0+cpu \
    && pip install --no-cache-dir -r requirements.lock

# Only the packages, the notes the quick start answers from, and what the build reads.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY ingest ./ingest
COPY examples ./examples
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && rm -rf build ./*.egg-info

USER 10001:10001
VOLUME ["/data"]
# /healthz: the gateway connected, the store and the database answering. Loading the model and
# connecting take a while, hence the start period.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck"]
# `greenroom start` runs the bot when DISCORD_TOKEN is set, else the sample Q&A.
CMD ["greenroom", "start"]
