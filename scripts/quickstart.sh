#!/usr/bin/env bash
# Builds batchlet, starts `batchlet server` with the embedded etcd, runs the
# seed tutorial's pi Job with kubectl and prints its digits. The server keeps
# running in the background afterwards (its log: $DATA_DIR/server.log).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then default_dir=/var/lib/batchlet; else default_dir=$HOME/.batchlet; fi
DATA_DIR=${DATA_DIR:-$default_dir}
export BATCHLET_DATA_DIR=$DATA_DIR
scripts/install-deps.sh
mkdir -p bin "$DATA_DIR"
go build -o bin/ ./cmd/batchlet ./cmd/batchlet-shim ./cmd/rediswq-worker

if ! bin/batchlet kubectl --request-timeout=2s get --raw /readyz >/dev/null 2>&1; then
  nohup bin/batchlet server --data-dir "$DATA_DIR" >"$DATA_DIR/server.log" 2>&1 &
  for _ in $(seq 1 100); do
    grep -q "ready in" "$DATA_DIR/server.log" 2>/dev/null && break
    sleep 0.1
  done
  grep "batchlet:" "$DATA_DIR/server.log"
fi
export KUBECONFIG="$DATA_DIR/kubeconfig"
KUBECTL=$(command -v kubectl || echo "bin/batchlet kubectl")

$KUBECTL delete job pi --ignore-not-found >/dev/null
$KUBECTL apply -f examples/pi/job.yaml
$KUBECTL wait --for=condition=complete --timeout=120s job/pi
$KUBECTL get jobs
pods=$($KUBECTL get pods --selector=job-name=pi --output=jsonpath='{.items[*].metadata.name}')
$KUBECTL logs "$pods"
echo
echo "batchlet is running; use: export KUBECONFIG=$KUBECONFIG"
