#!/usr/bin/env bash
# Screenshot a `factory report` page as a browser shows it: headless Chromium, offline, one PNG.
#
# The report is one self-contained HTML file (figures embedded as base64 PNG, CSS inline), so the
# browser is given no network and only a file:// URL. Use it to check that the page renders:
# figures visible, Korean text in tables and figure labels readable (not boxes).
#
# Usage:
#   benchmarks/report_screenshot.sh                          # make a small Korean demo run, report it, shoot it
#   benchmarks/report_screenshot.sh REPORT.html [OUT.png] [WIDTH,HEIGHT]
#
# Default OUT is REPORT.screenshot.png next to the report; default size 1280,2000 (the page's first screens;
# use e.g. 1280,9000 for the whole page). The demo writes under $TMPDIR (or /tmp) and prints the paths.
#
# Needs the Debian packages chromium and fonts-noto-cjk (the page's tables use the browser's fonts; the
# figures carry their own via matplotlib):
#   apt-get update && apt-get install -y chromium fonts-noto-cjk
# and the project venv (.venv, from .ci/setup) for the demo run.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "error: chromium not found; apt-get install -y chromium fonts-noto-cjk" >&2
  exit 2
fi

if [ $# -eq 0 ]; then
  demo="$(mktemp -d "${TMPDIR:-/tmp}/factory-report-demo.XXXXXX")"
  # A real run: the Korean seed set, self-instruct, and the deterministic loopback teacher (no network).
  (cd "$repo" && "$python" - "$demo" <<'PY'
import sys
from pathlib import Path

from factory.testing.helpers import run_cli
from factory_openai.loopback import LoopbackOpenAI
from factory.testing.responders import self_instruct_responder

demo = Path(sys.argv[1])
recipe = demo / "ko-demo.yaml"
with LoopbackOpenAI(self_instruct_responder, api_key="sk-demo") as server:
    recipe.write_text(
        "name: ko-demo\nlanguage: ko\nbatch_size: 2\n"
        f"method:\n  seeds: {Path('seeds/ko/seed_tasks.jsonl').resolve()}\n  target: 60\n"
        f"teacher:\n  plugin: openai\n  model: gpt-4o-mini\n  api: completions\n  base_url: {server.base_url}\n"
        "  api_key_env: DEMO_KEY\nexport:\n  enabled: false\n", encoding="utf-8")
    done = run_cli("run", str(recipe), "--out", str(demo / "run"), "--quiet", env={"DEMO_KEY": "sk-demo"})
    if done.returncode:
        sys.exit(done.stderr)
PY
  )
  (cd "$repo" && "$python" -m factory report "$demo/run" -o "$demo/report.html")
  set -- "$demo/report.html"
fi

html="$(realpath "$1")"
out="${2:-${html%.html}.screenshot.png}"
size="${3:-1280,2000}"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT

"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$profile" \
  --screenshot="$out" --window-size="$size" "file://$html" 2>/dev/null

if [ ! -s "$out" ]; then
  echo "error: chromium wrote no screenshot" >&2
  exit 1
fi
echo "screenshot: $out ($(stat -c %s "$out") bytes) of $html"
