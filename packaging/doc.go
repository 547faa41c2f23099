// Package packaging holds the release scripts (dist.sh, windows.sh,
// install-ort.sh, install-deps.sh, screenshot.sh) and, in its tests, the
// checks of what `make dist` builds: the .deb installed into a scratch root,
// the tar.gz unpacked into a folder with spaces in its name, both run as a
// user would (no checkout, no Go), and the Windows zip's files, PE headers,
// resources and DLL imports. The tests read the artefacts from
// $LIKENESS_DIST, which `make dist-test` and `make test` set.
package packaging
