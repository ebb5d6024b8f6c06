#!/usr/bin/env bash
# The documentation's screenshots (docs/images/*.png), made by the console's browser
# tests themselves against a real `waport serve`: what the docs show is what is tested.
# Needs the dev extras and the distribution's Chromium (apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
WAPORT_SCREENSHOTS=docs/images WAPORT_REQUIRE_BROWSER=1 \
    python -m pytest -q -p no:cacheprovider tests/browser/test_console.py
ls -l docs/images/*.png
