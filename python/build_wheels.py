"""Cross-compile the dcor-stream wheels of every platform (or those named):

    python python/build_wheels.py [-o DIR] [GOOS/GOARCH ...]

linux/amd64, linux/arm64, darwin/arm64, darwin/amd64, windows/amd64: each a
static Go binary (CGO_ENABLED=0) in a wheel tagged for its platform, built
by the same backend as `pip install ./python`. Needs Go.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_build"))
import backend  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--out", default=os.path.join(backend.HERE, "dist"), help="output directory (default python/dist)")
    p.add_argument("targets", nargs="*", default=list(backend.PLATFORMS), help="GOOS/GOARCH (default: all)")
    a = p.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    for t in a.targets:
        start = time.time()
        name = backend.build_wheel(a.out, {"target": t})
        size = os.path.getsize(os.path.join(a.out, name))
        print(f"{t}: {os.path.join(a.out, name)} ({size / 2**20:.1f} MiB, {time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
