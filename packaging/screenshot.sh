#!/usr/bin/env bash
# screenshot.sh BIN OUT: runs the desktop app on a virtual X display with the
# analytic demo pack and a portrait, and saves a screenshot of the screen.
# Needs Xvfb, xauth and ImageMagick (`make screenshot` installs them).
set -euo pipefail
bin=${1:?usage: screenshot.sh BIN OUT}
out=${2:?usage: screenshot.sh BIN OUT}
here=$(cd "$(dirname "$0")/.." && pwd)
# SCREENSHOT_PHOTO and SCREENSHOT_PACK (a pack folder, installed instead of the
# analytic demo) choose what the window shows.
photo=${SCREENSHOT_PHOTO:-$here/testdata/testimages/portrait_astronaut_eileen_collins.png}
[ -f "$photo" ] || { echo "screenshot: no test photo at $photo" >&2; exit 1; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# The first free display from :99, so a test run and a developer's run can overlap.
n=99
while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
display=:$n
export XAUTHORITY=$tmp/Xauthority
touch "$XAUTHORITY"
xauth -q add "$display" . "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
Xvfb "$display" -screen 0 "${SCREEN_SIZE:-1400x900}x24" -auth "$XAUTHORITY" -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  DISPLAY=$display xdpyinfo >/dev/null 2>&1 && break
  [ -e "/tmp/.X11-unix/X$n" ] && break
  sleep 0.1
done

# A private data and config home: the demo pack in the store, fresh preferences.
export XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config XDG_CACHE_HOME=${XDG_CACHE_HOME:-$HOME/.cache}
store=$XDG_DATA_HOME/likeness/packs
mkdir -p "$store"
if [ -n "${SCREENSHOT_PACK:-}" ]; then
  "$bin" models install "$SCREENSHOT_PACK" >/dev/null
else
  "$bin" models synth --out "$store/likeness-demo" >/dev/null
fi

export DISPLAY=$display LIBGL_ALWAYS_SOFTWARE=1 FYNE_SCALE=${FYNE_SCALE:-1}
"$bin" "$photo" >"$tmp/app.log" 2>&1 &
pids+=($!)
sleep "${SCREENSHOT_WAIT:-8}"
if ! kill -0 "${pids[1]}" 2>/dev/null; then
  echo "screenshot: the app exited early:" >&2
  cat "$tmp/app.log" >&2
  exit 1
fi
# Optional key presses before the shot (needs xdotool), e.g.
# SCREENSHOT_KEYS="ctrl+m" to show the mask preview; each is followed by a wait.
for key in ${SCREENSHOT_KEYS:-}; do
  xdotool search --sync --name Likeness windowactivate --sync >/dev/null 2>&1 || true
  xdotool key --clearmodifiers "$key"
  sleep "${SCREENSHOT_KEY_WAIT:-6}"
done
import -display "$display" -window root "$out"
# Threading mistakes show up as "*** Error in Fyne call thread" lines.
echo "screenshot: wrote $out"
if grep -q '\*\*\*' "$tmp/app.log"; then
  echo "screenshot: the app logged errors:" >&2
  grep -A3 '\*\*\*' "$tmp/app.log" >&2
  exit 2
fi
