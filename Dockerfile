FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    LUMEN_DATABASE_URL=sqlite:////data/lumen.db
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY lumen_bot ./lumen_bot
COPY channels ./channels
COPY prompts ./prompts
# The redis extra: compose.yaml (and any deployment with replicas) shares the rate limit through redis.
RUN pip install '.[redis]' && useradd --create-home --uid 10001 lumen && mkdir /data && chown lumen /data
USER lumen
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["lumen", "serve", "--host", "0.0.0.0", "--port", "8000"]
