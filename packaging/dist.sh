#!/usr/bin/env bash
# dist.sh [OUTDIR]: builds the release artefacts (default dist/), versioned
# from FyneApp.toml:
#   likeness_VERSION_amd64.deb             Debian/Ubuntu package (dpkg-deb)
#   likeness-VERSION-linux-x86_64.tar.gz   the same files, portable: runs from any folder
#   likeness-VERSION-windows-x86_64.zip    likeness.exe, likeness-cli.exe and the DLLs
#   SHA256SUMS
# Each carries THIRD_PARTY_NOTICES.txt (every Go module linked in, Go, ONNX
# Runtime, DirectML on Windows, the CLIP vocabulary). The ONNX Runtime library
# sits beside the binary, where Likeness looks first. Set DIST_SKIP_WINDOWS=1
# to leave out the Windows zip.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
GO=${GO:-go}
field() { sed -n "s/^$1 *= *\"\{0,1\}\([^\"]*\)\"\{0,1\} *\$/\1/p" FyneApp.toml | head -1; }
version=$(field Version)
id=$(field ID)
website=$(field Website)
[ -n "$version" ] && [ -n "$id" ] || { echo "dist: FyneApp.toml needs Version and ID" >&2; exit 1; }
# Reproducible dates: the last commit's, else now.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)

bash packaging/install-deps.sh dist
ortlib=$(bash packaging/install-ort.sh)

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/likeness-dist.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "dist: building likeness $version for Linux" >&2
CGO_ENABLED=1 "$GO" build -ldflags "-s -w" -o "$work/likeness" .
got=$("$work/likeness" version)
[ "$got" = "likeness $version" ] || { echo "dist: the binary says '$got', FyneApp.toml says $version" >&2; exit 1; }
"$GO" run ./packaging/notices -goos linux -out "$work/THIRD_PARTY_NOTICES-linux.txt"

# ---- the man page, from the binary's own help ----
roff() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
man=$work/likeness.1
{
  echo ".TH LIKENESS 1 \"$date\" \"likeness $version\" \"User Commands\""
  echo ".SH NAME"
  echo "likeness \\- portrait editor that changes what you ask for and keeps everything else"
  echo ".SH SYNOPSIS"
  echo ".B likeness"
  echo "[\\fIPHOTO\\fR]"
  echo ".br"
  echo ".B likeness"
  echo "\\fICOMMAND\\fR [\\fIflags\\fR]"
  echo ".SH DESCRIPTION"
  echo "With no command, or with a photo, Likeness opens the desktop app. With a command it"
  echo "works headless. Model packs live in \\fI~/.local/share/likeness/packs\\fR;"
  echo "\\fBlikeness models install --starter\\fR installs the packs that ship inside the program."
  echo ".SH COMMANDS"
  "$work/likeness" help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print}' | while read -r cmd desc; do
    echo ".TP"
    echo ".B $cmd"
    echo "$desc" | roff
  done
  echo ".SH OPTIONS"
  for cmd in $("$work/likeness" help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1}'); do
    [ "$cmd" = version ] && continue
    echo ".SS likeness $cmd"
    echo ".nf"
    "$work/likeness" "$cmd" -h 2>&1 | roff || true
    echo ".fi"
  done
  echo ".SH ENVIRONMENT"
  echo ".TP"
  echo ".B LIKENESS_ORT_LIB"
  echo "An ONNX Runtime library to use (for example an onnxruntime-gpu build for CUDA) when"
  echo "none sits beside the likeness binary and none is set in the app."
  echo ".SH EXIT STATUS"
  echo "0 done, 1 failed, 2 bad usage, 130 cancelled."
  echo ".SH SEE ALSO"
  echo "$website"
} > "$man"

# ---- the Linux tree, shared by the .deb and the tar.gz ----
stage_share() { # DEST (a .../share folder)
  install -Dm644 packaging/linux/app.likeness.editor.desktop "$1/applications/$id.desktop"
  install -Dm644 assets/icon.png "$1/icons/hicolor/256x256/apps/$id.png"
  mkdir -p "$1/metainfo"
  sed -e "s|@VERSION@|$version|" -e "s|@DATE@|$date|" -e "s|@WEBSITE@|$website|" \
    packaging/linux/app.likeness.editor.metainfo.xml.in > "$1/metainfo/$id.metainfo.xml"
  chmod 0644 "$1/metainfo/$id.metainfo.xml"
}

root=$work/deb
install -Dm755 "$work/likeness" "$root/usr/lib/likeness/likeness"
install -Dm644 "$ortlib" "$root/usr/lib/likeness/libonnxruntime.so.1"
mkdir -p "$root/usr/bin"
ln -s ../lib/likeness/likeness "$root/usr/bin/likeness"
stage_share "$root/usr/share"
install -d "$root/usr/share/man/man1"
gzip -9n < "$man" > "$root/usr/share/man/man1/likeness.1.gz"
chmod 0644 "$root/usr/share/man/man1/likeness.1.gz"
install -d "$root/usr/share/doc/likeness"
{
  echo "Likeness $version"
  echo "Homepage: $website"
  echo
  echo "Likeness is by the Likeness developers. The package also carries"
  echo "/usr/lib/likeness/libonnxruntime.so.1 (ONNX Runtime 1.30.0, MIT, Microsoft)."
  echo "The licences of everything in it follow."
  echo
  cat "$work/THIRD_PARTY_NOTICES-linux.txt"
} > "$root/usr/share/doc/likeness/copyright"
chmod 0644 "$root/usr/share/doc/likeness/copyright"

# Depends, from the libraries the binary and ONNX Runtime link against.
(
  cd "$work" && mkdir -p debian && printf 'Source: likeness\n\nPackage: likeness\nArchitecture: amd64\n' > debian/control
  dpkg-shlibdeps -O -l"$root/usr/lib/likeness" -e "$root/usr/lib/likeness/likeness" -e "$root/usr/lib/likeness/libonnxruntime.so.1" 2>"$work/shlibdeps.log"
) > "$work/shlibs" || { cat "$work/shlibdeps.log" >&2; exit 1; }
depends=$(sed -n 's/^shlibs:Depends=//p' "$work/shlibs")
[ -n "$depends" ] || { echo "dist: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
install -d "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: likeness
Version: $version
Architecture: amd64
Maintainer: The Likeness developers <likeness@likeness.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Section: graphics
Priority: optional
Homepage: $website
Description: portrait editor that changes what you ask for and keeps the rest
 Likeness edits a portrait's expression or costume and keeps everything else
 as it was: face, hair, clothes and layout. It works out an editing mask by
 itself, edits inside it and rebuilds the photo outside it. It runs locally on
 ONNX Runtime (bundled) and has a desktop app and a headless command line.
CONTROL
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb=$out/likeness_${version}_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb.tmp" >/dev/null
mv -f "$deb.tmp" "$deb"
echo "dist: wrote $deb" >&2

# ---- the portable tar.gz ----
readme() { # OS
  echo "Likeness $version"
  echo
  if [ "$1" = linux ]; then
    echo "Start it with ./likeness (or ./likeness photo.jpg); the command line is the same"
    echo "program: ./likeness help. It runs from any folder: the ONNX Runtime library sits"
    echo "beside it. share/ holds a menu entry and an icon to copy into ~/.local/share/ if"
    echo "you want one (the .deb installs them for you). To uninstall, delete this folder."
    echo "The manual is likeness.1 (man ./likeness.1)."
  else
    echo "Double-click likeness.exe to start the app; likeness-cli.exe is the same program"
    echo "for the command line (likeness-cli help). Keep the DLLs beside the programs."
    echo "ONNX Runtime needs the Microsoft Visual C++ Redistributable (x64); if Likeness"
    echo "says it cannot start ONNX Runtime, install it from"
    echo "https://aka.ms/vs/17/release/vc_redist.x64.exe"
    echo "To uninstall, delete this folder."
  fi
  echo
  echo "On first start Likeness offers the starter model packs it carries (or a demo"
  echo "pack); packs are kept in your user data folder. Licences: THIRD_PARTY_NOTICES.txt."
  echo "More: $website"
}
name=likeness-$version-linux-x86_64
tdir=$work/tar/$name
install -Dm755 "$work/likeness" "$tdir/likeness"
install -Dm644 "$ortlib" "$tdir/libonnxruntime.so.1"
install -Dm644 "$man" "$tdir/likeness.1"
install -Dm644 "$work/THIRD_PARTY_NOTICES-linux.txt" "$tdir/THIRD_PARTY_NOTICES.txt"
readme linux > "$tdir/README.txt"
stage_share "$tdir/share"
tgz=$out/$name.tar.gz
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  -C "$work/tar" -czf "$tgz.tmp" "$name"
mv -f "$tgz.tmp" "$tgz"
echo "dist: wrote $tgz" >&2

# ---- the Windows zip ----
if [ "${DIST_SKIP_WINDOWS:-}" != 1 ]; then
  name=likeness-$version-windows-x86_64
  wdir=$work/zip/$name
  bash packaging/windows.sh "$wdir"
  "$GO" run ./packaging/notices -goos windows -out "$wdir/THIRD_PARTY_NOTICES.txt"
  readme windows | sed 's/$/\r/' > "$wdir/README.txt"
  find "$work/zip" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  zip=$out/$name.zip
  rm -f "$zip.tmp"
  (cd "$work/zip" && find "$name" -type f | LC_ALL=C sort | zip -X -q -9 "$zip.tmp" -@)
  mv -f "$zip.tmp" "$zip"
  echo "dist: wrote $zip" >&2
fi

made=("$(basename "$deb")" "$(basename "$tgz")")
[ "${DIST_SKIP_WINDOWS:-}" = 1 ] || made+=("$(basename "$zip")")
(cd "$out" && sha256sum -- "${made[@]}" > SHA256SUMS.tmp && mv -f SHA256SUMS.tmp SHA256SUMS)
echo "dist: done; see $out/SHA256SUMS" >&2
