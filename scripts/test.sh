#!/usr/bin/env bash
# Runs the whole test suite: unit, integration (in-process server on
# embedded etcd) and end-to-end (the built binary driven by real kubectl).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
go vet ./...
mkdir -p bin
go build -o bin/ ./cmd/batchlet ./cmd/batchlet-shim ./cmd/rediswq-worker
BATCHLET_BIN="$PWD/bin/batchlet" go test -count=1 -timeout 25m ./...
