#!/usr/bin/env bash
# Installs the Debian packages a build needs when any is missing. The first
# argument picks the set: "build" (cgo + Fyne), "screenshot" (build + Xvfb),
# "test" (screenshot + Debian's openclipart-png, the external evaluation
# set), "windows" (build + the mingw-w64 cross compiler), "dist" (windows + what
# `make dist` and its tests use: dpkg-dev for dpkg-shlibdeps, zip,
# desktop-file-utils for desktop-file-validate, appstream for appstreamcli)
# or "train" (Debian's PyTorch stack for models/train, with OpenBLAS: torch
# otherwise falls back to reference BLAS, about 70x slower on a large Linear).
set -euo pipefail
set_name=${1:-build}
pkgs=(gcc pkg-config libgl-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev)
if [ "$set_name" = screenshot ] || [ "$set_name" = test ]; then
  pkgs+=(xvfb xauth libgl1-mesa-dri imagemagick xdotool)
fi
if [ "$set_name" = test ]; then
  pkgs+=(openclipart-png) # the external evaluation set (testdata/external/openclipart)
fi
if [ "$set_name" = windows ] || [ "$set_name" = dist ]; then
  pkgs+=(gcc-mingw-w64-x86-64)
fi
if [ "$set_name" = dist ]; then
  pkgs+=(dpkg-dev zip desktop-file-utils appstream)
fi
if [ "$set_name" = train ]; then
  pkgs=(python3 python3-torch python3-numpy python3-pil python3-onnx python3-pytest libopenblas0-openmp)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: missing ${missing[*]} and no apt-get; install them with your package manager" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
