#!/usr/bin/env bash
# Checks the shipped Kubernetes manifests without a cluster (none can run
# here): check/ decodes shards.yaml and merge.yaml strictly as batch/v1 Jobs
# and runs what their pods would run, index by index, on the example data;
# the merged result must equal one run to the bit. See check/main.go.
#
#   deploy/k8s/test-manifests.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$tmp/dcor-stream" ./cmd/dcor-stream)
cd "$here/check"
timeout 300 go run . -bin "$tmp/dcor-stream" -input "$repo/testdata/activations.arrow" "$here/shards.yaml" "$here/merge.yaml"
