#!/usr/bin/env bash
# The Python tests (issue 23) on the package as a user gets it: build the
# linux x86_64 wheel from this checkout with `pip wheel --no-deps ./python`
# (pip runs the in-tree PEP 517 backend python/_build/backend.py, which
# compiles the static binary with Go, CGO_ENABLED=0), install it and the
# test dependencies into a fresh virtual environment, and run python/tests
# there from outside the source tree with Go off PATH, so that what is
# imported and run is the installed wheel.
#
#   .ci/pytest.sh [PYTEST ARGS...]
#
# torch is not installed: the only torch the registries here serve is
# PyPI's CUDA build, about 4 GB with its nvidia-* wheels (the CPU wheel's
# index is not reachable), so tests/test_torch.py skips, saying why, unless
# TORCH_SITE names a site-packages directory that has torch (it is then
# appended to the venv's path). PYTHON picks the interpreter (python3).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
start=$SECONDS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; echo "pytest.sh: cleaned up at $((SECONDS - start)) s"' EXIT

DCOR_STREAM_TARGET=linux/amd64 "$python" -m pip wheel -q --no-deps -w "$tmp/dist" "$repo/python"
wheel=$(echo "$tmp"/dist/dcor_stream-*-manylinux_2_17_x86_64*.whl)
echo "pytest.sh: built $(basename "$wheel") in $((SECONDS - start)) s"

"$python" -m venv "$tmp/venv"
py=$tmp/venv/bin/python
"$py" -m pip install -q --no-compile "$wheel" numpy pytest pandas pyarrow polars matplotlib tqdm dcor
if [ -n "${TORCH_SITE:-}" ]; then
	echo "$TORCH_SITE" >"$("$py" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/zz-torch-site.pth"
fi
echo "pytest.sh: venv ready at $((SECONDS - start)) s"

# The wheel without Go: PATH has the venv and the system's directories only.
nogo=$tmp/venv/bin:/usr/bin:/bin
if PATH=$nogo command -v go >/dev/null; then
	echo "pytest.sh: go is in /usr/bin or /bin: the run without Go on PATH is not one" >&2
	exit 1
fi
cd "$tmp"
run() { env -u DCOR_STREAM_BIN -u PYTHONPATH PATH="$nogo" "$@"; }
run "$py" -c 'import dcor_stream; print(dcor_stream.dcor([[1],[2],[3],[5]], [[1],[3],[2],[4]]))'
run DCOR_STREAM_TEST_WHEEL=1 "$py" -m pytest -q -p no:cacheprovider "$repo/python/tests" "$@"

# From a checkout without Go, pip says what is missing.
if run "$py" -m pip wheel -q --no-deps -w "$tmp/nogo" "$repo/python" >"$tmp/nogo.log" 2>&1; then
	echo "pytest.sh: pip wheel ./python without Go on PATH succeeded" >&2
	exit 1
fi
grep -q "needs Go 1.26 or later: install Go" "$tmp/nogo.log" || { cat "$tmp/nogo.log" >&2; exit 1; }
echo "pytest.sh: done in $((SECONDS - start)) s"
