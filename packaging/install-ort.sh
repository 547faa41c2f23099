#!/usr/bin/env bash
# Installs the ONNX Runtime shared library Likeness loads, once, into the user's
# XDG cache. The library comes from the npm package onnxruntime-node (which ships
# the plain C library next to its Node binding); both the package tarball and the
# extracted library are checked against pinned SHA-256 digests. The library is
# copied under a temporary name and renamed into place only when complete, so an
# interrupted install leaves nothing half-done.
#
# Prints the library path on stdout.
# Usage: install-ort.sh [--print-path]
#        install-ort.sh --windows-dlls DIR   (onnxruntime.dll + DirectML.dll for a Windows build)
set -euo pipefail

ORT_VERSION=1.30.0
TGZ_SHA256=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
LIB_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
LIB_IN_TGZ=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
WIN_DIR_IN_TGZ=package/bin/napi-v6/win32/x64
declare -A WIN_SHA256=(
  [onnxruntime.dll]=508c362f5673483dd3a086379c392795b2e42d10d5e6f3f90ebd7ac21c97af67
  [DirectML.dll]=234e8898778cdec88d3cb0539508273494082812c968699f3de665a018971625
)

cache=${XDG_CACHE_HOME:-$HOME/.cache}/likeness/onnxruntime-$ORT_VERSION
lib=$cache/libonnxruntime.so.1

if [ "${1:-}" = "--print-path" ]; then
  echo "$lib"
  exit 0
fi

sha() { sha256sum "$1" | cut -d' ' -f1; }

windows_out=""
if [ "${1:-}" = "--windows-dlls" ]; then
  windows_out=${2:?usage: install-ort.sh --windows-dlls DIR}
fi

# Windows DLLs are cached too; copy them from the cache when it holds them.
win_cache=$cache/win32-x64
if [ -n "$windows_out" ]; then
  cached=1
  for dll in "${!WIN_SHA256[@]}"; do
    [ -f "$win_cache/$dll" ] && [ "$(sha "$win_cache/$dll")" = "${WIN_SHA256[$dll]}" ] || cached=0
  done
  if [ $cached = 1 ]; then
    mkdir -p "$windows_out"
    for dll in "${!WIN_SHA256[@]}"; do
      cp -f "$win_cache/$dll" "$windows_out/$dll.tmp.$$" && mv -f "$windows_out/$dll.tmp.$$" "$windows_out/$dll"
    done
    exit 0
  fi
fi

if [ -z "$windows_out" ] && [ -f "$lib" ] && [ "$(sha "$lib")" = "$LIB_SHA256" ]; then
  echo "$lib"
  exit 0
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) [ -n "$windows_out" ] || echo "install-ort: no pinned ONNX Runtime for $(uname -s)/$(uname -m); set LIKENESS_ORT_LIB to your own libonnxruntime" >&2
     [ -n "$windows_out" ] || exit 1 ;;
esac

if ! command -v npm >/dev/null 2>&1; then
  echo "install-ort: npm is needed to fetch onnxruntime-node@$ORT_VERSION; installing Debian's npm" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >&2 && apt-get install -y -qq npm >&2
  else sudo apt-get update -qq >&2 && sudo apt-get install -y -qq npm >&2; fi
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.partial-XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "install-ort: fetching onnxruntime-node@$ORT_VERSION (about 110 MB, once)" >&2
(cd "$work" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
tgz=$work/onnxruntime-node-$ORT_VERSION.tgz
got=$(sha "$tgz")
if [ "$got" != "$TGZ_SHA256" ]; then
  echo "install-ort: $tgz: checksum mismatch (got $got, want $TGZ_SHA256); nothing installed" >&2
  exit 1
fi
if [ -n "$windows_out" ]; then
  mkdir -p "$windows_out"
  for dll in "${!WIN_SHA256[@]}"; do
    tar -xzf "$tgz" -C "$work" "$WIN_DIR_IN_TGZ/$dll"
    got=$(sha "$work/$WIN_DIR_IN_TGZ/$dll")
    if [ "$got" != "${WIN_SHA256[$dll]}" ]; then
      echo "install-ort: $dll: checksum mismatch (got $got); nothing installed" >&2
      exit 1
    fi
    mkdir -p "$win_cache"
    cp -f "$work/$WIN_DIR_IN_TGZ/$dll" "$win_cache/$dll.tmp.$$" && mv -f "$win_cache/$dll.tmp.$$" "$win_cache/$dll"
    mv -f "$work/$WIN_DIR_IN_TGZ/$dll" "$windows_out/$dll.tmp.$$"
    mv -f "$windows_out/$dll.tmp.$$" "$windows_out/$dll"
  done
  echo "install-ort: put onnxruntime.dll and DirectML.dll in $windows_out (they need the VC++ runtime)" >&2
  exit 0
fi
tar -xzf "$tgz" -C "$work" "$LIB_IN_TGZ"
got=$(sha "$work/$LIB_IN_TGZ")
if [ "$got" != "$LIB_SHA256" ]; then
  echo "install-ort: $LIB_IN_TGZ: checksum mismatch (got $got, want $LIB_SHA256); nothing installed" >&2
  exit 1
fi
chmod 0755 "$work/$LIB_IN_TGZ"
mv -f "$work/$LIB_IN_TGZ" "$lib.tmp.$$"
mv -f "$lib.tmp.$$" "$lib"
echo "install-ort: installed $lib" >&2
echo "$lib"
