#!/usr/bin/env bash
# Start the real app on Qt's X11 (xcb) platform under Xvfb with an example clip, wait for its
# window, take a screenshot of the screen, and fail if the window does not come up.
#   .ci/xvfb_smoke.sh [SCREENSHOT.png]      (default: /tmp/rfm-xvfb-smoke.png)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-/tmp/rfm-xvfb-smoke.png}"
WORK="$(mktemp -d /tmp/rfm-xvfb.XXXXXX)"
export RFM_STUDIO_CONFIG_DIR="$WORK/config" RFM_STUDIO_DATA_DIR="$WORK/data" RFM_STUDIO_LOG_DIR="$WORK/logs"
export RFM_STUDIO_CACHE_DIR="$WORK/cache" OUT WORK
unset QT_QPA_PLATFORM  # the real platform plugin, not offscreen
xvfb-run -a -s "-screen 0 1280x720x24" bash -c '
  python -m rfm_studio.app resources/examples/dog_bark_in_rain.wav >"$WORK/app.log" 2>&1 &
  app=$!
  up=0
  for _ in $(seq 120); do
    if xwininfo -root -tree 2>/dev/null | grep -q "RFM Studio"; then up=1; break; fi
    kill -0 $app 2>/dev/null || break
    sleep 0.5
  done
  [ $up = 1 ] && sleep 3  # let the clip and its spectrogram draw
  import -window root "$OUT"
  kill $app 2>/dev/null; wait $app 2>/dev/null
  [ $up = 1 ]'
rc=$?
if [ $rc -ne 0 ]; then
  echo "FAIL: the RFM Studio window did not come up under Xvfb (xcb); the app said:"
  cat "$WORK/app.log"
  exit 1
fi
# a window that came up but drew nothing would leave a flat screenshot
sd=$(python3 -c "
import sys
from PySide6.QtGui import QImage
im = QImage(sys.argv[1]); assert not im.isNull()
px = [im.pixelColor(x, y).lightness() for x in range(0, im.width(), 16) for y in range(0, im.height(), 16)]
m = sum(px) / len(px); print(int((sum((p - m) ** 2 for p in px) / len(px)) ** 0.5))" "$OUT")
echo "window up under Xvfb (xcb); screenshot $OUT (lightness spread $sd)"
rm -rf "$WORK"
[ "${sd:-0}" -gt 5 ]
