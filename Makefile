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

.PHONY: run build test deps ort vet fmt-check bench screenshot windows clean demo train-deps train-test starter-packs

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

test: deps ort fmt-check vet
	@bash packaging/install-deps.sh screenshot # Xvfb for the window smoke test
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) train-test

train-deps:
	@bash packaging/install-deps.sh train

# The trainer's tests: renderer, tokenizer, micro training (loss falls, resume,
# 2-process DDP), export -> likeness models check -> likeness edit, and the
# torch reference sampler against the Go engine on the same noise.
train-test: train-deps build ort
	cd models/train && LIKENESS_BIN=$(abspath $(BIN)) OMP_NUM_THREADS=1 $(PYTHON) -m pytest -q -p no:cacheprovider tests

# Reproduces the learned starter packs (about 85 minutes on 2 cores).
starter-packs: train-deps
	PYTHON=$(PYTHON) bash models/train/starter-packs.sh

bench: build ort
	$(GO) test -run '^$$' -bench . -benchtime 3x ./engine/...
	./$(BIN) bench

screenshot:
	@bash packaging/install-deps.sh screenshot
	$(MAKE) build ort
	SCREENSHOT_KEYS=ctrl+m bash packaging/screenshot.sh $(BIN) docs/screenshot.png

windows:
	@dpkg-query -W gcc-mingw-w64-x86-64 >/dev/null 2>&1 || { sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; $$sudo apt-get update -qq && $$sudo apt-get install -y -qq gcc-mingw-w64-x86-64; }
	# likeness.exe is the app (no console window); likeness-cli.exe the same
	# program linked as a console binary for the command line.
	CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc $(GO) build -ldflags "-H windowsgui" -o bin/windows/likeness.exe .
	CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc $(GO) build -o bin/windows/likeness-cli.exe .
	bash packaging/install-ort.sh --windows-dlls bin/windows

clean:
	rm -rf bin
