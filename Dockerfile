# Greenroom: the Discord bot and its knowledge base, CPU only.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    ANONYMIZED_TELEMETRY=False \
    GREENROOM_DATA_DIR=/data

WORKDIR /app
# The CPU build of torch, pinned: an unpinned torch pulls a multi-GB CUDA build.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY ingest ./ingest
COPY examples ./examples
RUN pip install --no-cache-dir .

VOLUME ["/data"]
# `greenroom start` runs the bot when DISCORD_TOKEN is set, else the sample Q&A.
CMD ["greenroom", "start"]
