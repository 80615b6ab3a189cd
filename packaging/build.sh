#!/usr/bin/env bash
# Build the one-folder RFM Studio app with PyInstaller:  packaging/build.sh [--deps-only]
#
#   1. a dedicated virtual environment (build/venv) with the CPU-only torch wheel, the app
#      (`pip install .`, no extras) and PyInstaller: a CUDA torch would add ~3 GB of NVIDIA
#      libraries to the bundle;
#   2. pyinstaller packaging/rfm-studio.spec  ->  dist/rfm-studio/  (dist/RFM Studio.app on macOS).
#
# Environment:
#   PYTHON        the interpreter for the venv (default python3.11, else python3)
#   BUILD_VENV    where the venv lives (default build/venv; reused when it already has torch)
#   TORCH_SPEC    the torch requirement (default torch==2.13.0: the CPU-only wheel that pip
#                 finds on this machine's disk; 2.4 <= version <= 2.14.1)
#   TORCH_PIP_ARGS extra pip arguments for torch, e.g. "--index-url <PyTorch's CPU wheel index>"
#                 on a machine where PyPI's Linux torch is the CUDA build
#   ALLOW_CUDA_TORCH=1  accept a CUDA torch (the bundle is then ~4 GB larger)
#   NICE          the niceness for pip and PyInstaller (default 19: a build must not starve
#                 a training run on the same machine)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${BUILD_VENV:-$ROOT/build/venv}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
NICE="${NICE:-19}"
run() { nice -n "$NICE" "$@"; }

case "$(uname -s)" in
  MINGW*|MSYS*|CYGWIN*) VBIN="$VENV/Scripts" ;;
  *) VBIN="$VENV/bin" ;;
esac
VPY="$VBIN/python"

if [ ! -x "$VPY" ] && [ ! -x "$VPY.exe" ]; then
  echo "== creating $VENV with $PYTHON"
  run "$PYTHON" -m venv "$VENV"
fi
run "$VPY" -m pip install --quiet --upgrade pip wheel

if ! "$VPY" -c "import torch" 2>/dev/null; then
  echo "== installing $TORCH_SPEC"
  # shellcheck disable=SC2086
  run "$VPY" -m pip install --quiet "$TORCH_SPEC" ${TORCH_PIP_ARGS:-}
fi
"$VPY" - <<'EOF'
import os, sys, torch
cuda = torch.version.cuda
print(f"torch {torch.__version__} (CUDA build: {cuda or 'no'})")
if cuda and os.environ.get("ALLOW_CUDA_TORCH") != "1":
    sys.exit("build.sh: this torch is a CUDA build; install the CPU-only wheel (TORCH_SPEC / "
             "TORCH_PIP_ARGS) or set ALLOW_CUDA_TORCH=1 to accept a much larger bundle.")
EOF

echo "== installing rfm-studio and PyInstaller"
# Non-editable, without extras; torch stays the one installed above (it satisfies the pin).
run "$VPY" -m pip install --quiet "$ROOT" "pyinstaller>=6.10" "pyinstaller-hooks-contrib>=2024.8"
# torchaudio is a declared dependency but unused at run time, and PyPI's wheel is built
# against another (CUDA) torch: with the CPU torch it fails to load, and transformers
# imports it whenever it is installed. The spec excludes it too.
if "$VPY" -m pip show torchaudio >/dev/null 2>&1; then
  run "$VPY" -m pip uninstall --quiet --yes torchaudio
fi
mkdir -p "$ROOT/build"
"$VPY" -m pip freeze > "$ROOT/build/requirements-frozen.txt" 2>/dev/null || true

if [ "${1:-}" = "--deps-only" ]; then
  echo "== environment ready: $VENV"
  exit 0
fi

echo "== pyinstaller"
start=$(date +%s)
run "$VPY" -m PyInstaller --noconfirm --clean \
  --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" \
  "$ROOT/packaging/rfm-studio.spec"
echo "== built in $(( $(date +%s) - start )) s: $ROOT/dist/rfm-studio"
du -sh "$ROOT/dist/rfm-studio" 2>/dev/null || true
