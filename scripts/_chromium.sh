# Sourced by scripts/test and .ci/run: Debian's chromium for the widget's browser tests, installed with
# apt when it is missing and this user may (Playwright drives it; no browser download of its own).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the widget's browser tests…" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium is not installed (sudo apt-get install chromium); the widget's browser tests will be skipped" >&2
  fi
fi
