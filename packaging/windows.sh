#!/usr/bin/env bash
# windows.sh OUTDIR: cross-compiles Likeness for 64-bit Windows with mingw-w64
# into OUTDIR:
#   likeness.exe      the app, without a console window
#   likeness-cli.exe  the same program linked as a console binary
#   onnxruntime.dll, DirectML.dll  from the pinned npm package, checksum verified
# Both executables carry the icon, a manifest and version resources (what
# `fyne package` embeds), made by go-winres (`go run` from the Go module
# proxy, pinned) from assets/icon.png and FyneApp.toml's version.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: windows.sh OUTDIR}
GO=${GO:-go}
WINRES=github.com/tc-hib/go-winres@v0.3.3
version=$(sed -n 's/^Version *= *"\(.*\)"$/\1/p' FyneApp.toml)
build=$(sed -n 's/^Build *= *\([0-9][0-9]*\).*/\1/p' FyneApp.toml)
[ -n "$version" ] || { echo "windows.sh: no Version in FyneApp.toml" >&2; exit 1; }
# Windows wants four numbers: 0.1.0 build 1 -> 0.1.0.1
filever=$version.${build:-0}

if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  bash packaging/install-deps.sh windows
fi
mkdir -p "$out"

# The .syso must sit in the main package's folder while it builds; only
# GOOS=windows builds pick it up, and it is removed afterwards.
syso=rsrc_windows_amd64.syso
cleanup() { rm -f "$syso"; }
trap cleanup EXIT INT TERM
resources() { # manifest original-filename description
  env -u GOOS -u GOARCH -u CC "$GO" run "$WINRES" simply --arch amd64 --out rsrc --icon assets/icon.png --manifest "$1" \
    --product-name Likeness --product-version "$version" --file-version "$filever" \
    --file-description "$3" --original-filename "$2" \
    --copyright "The Likeness developers"
}
# Link the mingw runtime statically: the zip then needs no libgcc or
# libwinpthread DLL.
ldflags="-s -w -extldflags=-static"
winbuild() { CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc "$GO" build "$@"; }
resources gui likeness.exe "Likeness portrait editor"
winbuild -ldflags "$ldflags -H windowsgui" -o "$out/likeness.exe" .
resources cli likeness-cli.exe "Likeness portrait editor (command line)"
winbuild -ldflags "$ldflags" -o "$out/likeness-cli.exe" .
bash packaging/install-ort.sh --windows-dlls "$out"
echo "windows.sh: wrote $out/likeness.exe, likeness-cli.exe, onnxruntime.dll and DirectML.dll" >&2
