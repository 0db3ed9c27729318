#!/usr/bin/env bash
# What can be tested of the container recipe without a container engine:
# builds dcor-stream exactly as Containerfile does, checks it is statically
# linked (file, ldd), and runs it in a root file system holding only what
# the FROM scratch image holds (the binary, /tmp, the CA bundle) plus the
# example data, with chroot; a one-shot run and a 2-shard run merged inside
# the chroot must print the same JSON as the normal build.
#
#   deploy/container/test-scratch.sh      (as root, for chroot; or under unshare -r)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
say() { echo "[scratch-test] $*"; }

# The image's build line (Containerfile), and its files.
(cd "$repo" && CGO_ENABLED=0 timeout 300 go build -trimpath -ldflags='-s -w' -o "$root/usr/local/bin/dcor-stream" ./cmd/dcor-stream)
bin=$root/usr/local/bin/dcor-stream
mkdir -m 1777 "$root/tmp"
mkdir -p "$root/etc/ssl/certs" "$root/data"
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
desc=$(file -b "$bin")
say "file: $desc"
case $desc in *"statically linked"*) ;; *) say "FAIL: not statically linked"; exit 1 ;; esac
if ldd "$bin" >/dev/null 2>&1; then say "FAIL: ldd lists libraries: $(ldd "$bin")"; exit 1; fi
say "ldd: $(ldd "$bin" 2>&1 || true)"
say "size: $(du -h "$bin" | cut -f1)"

cp "$repo/testdata/activations.arrow" "$root/data/"
args=(-format json -x model_a -y model_b)
want=$(cd "$repo" && go run ./cmd/dcor-stream "${args[@]}" testdata/activations.arrow)
inside() { chroot "$root" /usr/local/bin/dcor-stream "$@"; }
got=$(inside "${args[@]}" /data/activations.arrow)
[ "$got" = "$want" ] || { say "FAIL: in the empty root: $got, want $want"; exit 1; }
for i in 0 1; do inside -quiet -shard "$i/2" -state "/data/state-$i.dcs" -checkpoint "/data/ckpt-$i.dcs" "${args[@]}" /data/activations.arrow 2>/dev/null; done
got=$(inside merge -format json /data/state-0.dcs /data/state-1.dcs)
[ "$got" = "$want" ] || { say "FAIL: merged in the empty root: $got, want $want"; exit 1; }
say "the static binary alone in an empty root: one run and a 2-shard merge == the normal build, to the bit"
say "PASS"
