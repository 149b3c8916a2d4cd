# syntax=docker/dockerfile:1
# Lumen's production image: the first stage builds the wheel and installs it with the locked dependencies
# into a virtual environment; the image is the base and that environment, and nothing else (no source
# tree, no build tools, no pip, no caches).
# The base is pinned to an exact tag (in both stages); pin its digest in your registry too (README, "Docker").

FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY lumen_bot ./lumen_bot
COPY channels ./channels
COPY prompts ./prompts
# The wheel carries the compiled message catalogs (setup.py) and the trained model.
RUN pip wheel --no-deps --wheel-dir /wheels .
# The virtual environment the runtime stage takes whole: every dependency exactly as locked and checked
# against its hash (the redis extra included: replicas share the rate limit through it), then Lumen's
# wheel alone, and neither pip nor the setuptools a 3.11 venv starts with. Made here, so that nothing the
# making leaves behind reaches the image's layers.
COPY requirements.lock ./
RUN python -m venv /opt/lumen \
    && /opt/lumen/bin/pip install --require-hashes --no-deps -r requirements.lock \
    && /opt/lumen/bin/pip install --no-deps /wheels/*.whl \
    && /opt/lumen/bin/pip uninstall --yes pip setuptools

FROM python:3.11.13-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/lumen/bin:$PATH \
    LUMEN_DATABASE_URL=sqlite:////data/lumen.db
RUN useradd --create-home --uid 10001 lumen && mkdir /data && chown lumen /data
# Same base, same path: the environment's interpreter links stay valid.
COPY --from=build /opt/lumen /opt/lumen
USER lumen
# The working directory holds no code: `python -c "import lumen_bot"` imports the installed package.
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# Ready, not just alive: the database and the rate limit's storage answer. The first start migrates the
# schema (and loads the demo with LUMEN_DEMO=1), which the start period allows for.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)" || exit 1
CMD ["lumen", "serve", "--host", "0.0.0.0", "--port", "8000"]
