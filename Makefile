# Likeness: `make run` starts the app, `make test` runs every test. Both install
# what they need first (Debian packages for cgo/Fyne, the ONNX Runtime library).
SHELL := /bin/bash
GO ?= go
BIN := bin/likeness
ORT_LIB = $(shell bash packaging/install-ort.sh --print-path)
# A user's own library (e.g. onnxruntime-gpu for CUDA) wins over the pinned one.
export LIKENESS_ORT_LIB ?= $(ORT_LIB)
export CGO_ENABLED := 1
# Debian's python3 (python3-torch); a pyenv or venv python on PATH may lack torch.
PYTHON ?= /usr/bin/python3

.PHONY: run build test deps ort vet fmt-check bench bench-sd screenshot windows dist dist-test clean demo train-deps train-test starter-packs

run: build ort
	./$(BIN) $(ARGS)

build: deps
	@command -v $(GO) >/dev/null || { echo "Go 1.26 is needed: https://go.dev/dl/" >&2; exit 1; }
	$(GO) build -o $(BIN) .

deps:
	@bash packaging/install-deps.sh build

ort:
	@bash packaging/install-ort.sh >/dev/null

vet: deps
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out" >&2; exit 1; fi

# `make test` ends with the release checks (`make dist-test`): it builds the
# release artefacts (make dist) and packaging/dist_test.go installs the .deb
# and the tar.gz and runs them, and checks the Windows zip. In the plain
# `go test ./...` run those checks skip, saying so, because LIKENESS_DIST is
# not set; dist-test sets it.
test: deps ort fmt-check vet
	@bash packaging/install-deps.sh test # Xvfb for the window smoke test, openclipart-png
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) train-test
	$(MAKE) dist-test

# The releases, into dist/: a .deb, a portable tar.gz and a Windows zip,
# versioned from FyneApp.toml (see packaging/dist.sh).
dist:
	bash packaging/dist.sh dist

# Only the release checks (what make test runs of them).
dist-test: dist
	LIKENESS_DIST=$(abspath dist) $(GO) test -count=1 -timeout 20m ./packaging/...

train-deps:
	@bash packaging/install-deps.sh train

# The trainer's tests: renderer, tokenizer, micro training (loss falls, resume,
# 2-process DDP), export -> likeness models check -> likeness edit, and the
# torch reference sampler against the Go engine on the same noise.
train-test: train-deps build ort
	cd models/train && LIKENESS_BIN=$(abspath $(BIN)) OMP_NUM_THREADS=1 $(PYTHON) -m pytest -q -p no:cacheprovider tests

# Reproduces the learned starter packs (about 7.5 hours on 2 cores, 7 with AE_FROM_PACK, of
# which about 2 for stage 5, the broad round:
# both MCDMs side by side, then costumes trains on for 80 + 75 minutes; see
# models/train/starter-packs.sh).
starter-packs: train-deps build ort
	PYTHON=$(PYTHON) bash models/train/starter-packs.sh

bench: build ort
	$(GO) test -run '^$$' -bench . -benchtime 3x ./engine/...
	./$(BIN) bench

# likeness bench on an SD 1.5-sized pack with random weights (built once,
# about 4 GB; needs about 6 GB of free memory and minutes of CPU).
bench-sd: build ort
	bash packaging/bench-sd.sh $(BIN)

screenshot:
	@bash packaging/install-deps.sh screenshot
	$(MAKE) build ort
	SCREEN_SIZE=1280x800 SCREENSHOT_KEYS="ctrl+m ctrl+Return" SCREENSHOT_KEY_WAIT=10 \
	  SCREENSHOT_PACK=$(abspath models/starter/packs/cartoon-expressions) SCREENSHOT_PHOTO=$(abspath assets/samples/cartoon-2.png) \
	  bash packaging/screenshot.sh $(BIN) docs/screenshot.png

# likeness.exe (no console), likeness-cli.exe, onnxruntime.dll and DirectML.dll,
# with icon and version resources, into bin/windows (packaging/windows.sh).
windows:
	bash packaging/windows.sh bin/windows

clean:
	rm -rf bin dist
