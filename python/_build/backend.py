"""The PEP 517 build backend of the dcor-stream wheel (no dependencies):
it compiles the static Go binary (CGO_ENABLED=0) of cmd/dcor-stream from
the repository this directory is in, and packs it with the pure-Python
module dcor_stream into a platform wheel.

    pip install ./python            # the wheel for this machine (needs Go)
    python python/build_wheels.py   # the wheels of every platform, cross-compiled

The target is this machine's GOOS/GOARCH, or DCOR_STREAM_TARGET (or the
config setting target=GOOS/GOARCH). GO names the go command (default: go on
PATH); DCOR_STREAM_PACK_BIN, if set, is a binary packed instead of
building one (for tests of the packing).
"""

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

NAME = "dcor_stream"
DIST = "dcor-stream"
VERSION = "0.1.0"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # python/
REPO = os.path.dirname(HERE)

# GOOS/GOARCH -> the wheel's platform tags. The binary is static: it needs
# no C library (manylinux and musllinux alike); Go 1.26 needs macOS 12.
PLATFORMS = {
    "linux/amd64": "manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_1_x86_64",
    "linux/arm64": "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64",
    "darwin/arm64": "macosx_12_0_arm64",
    "darwin/amd64": "macosx_12_0_x86_64",
    "windows/amd64": "win_amd64",
}

SUMMARY = ("Exact distance correlation, bias-corrected dCor, partial dCor, jackknife SEs, "
           "permutation tests and debiased CKA of numpy arrays, torch tensors and files, out of core")


def _go():
    go = os.environ.get("GO") or shutil.which("go")
    if not go:
        sys.exit("dcor-stream: building this wheel compiles the Go binary of cmd/dcor-stream, and needs Go 1.26 "
                 "or later: install Go (the go command on PATH, or GO=/path/to/go), or install a prebuilt wheel "
                 "of dcor-stream instead of this source tree")
    return go


def _host_target():
    out = subprocess.run([_go(), "env", "GOOS", "GOARCH"], capture_output=True, text=True, check=True).stdout.split()
    return f"{out[0]}/{out[1]}"


def _target(config_settings):
    t = (config_settings or {}).get("target") or os.environ.get("DCOR_STREAM_TARGET") or _host_target()
    if t not in PLATFORMS:
        sys.exit(f"dcor-stream: target {t!r}: want one of {sorted(PLATFORMS)}")
    return t


def build_binary(target, out):
    """Compile cmd/dcor-stream for target (GOOS/GOARCH) to out."""
    if not os.path.exists(os.path.join(REPO, "go.mod")) or not os.path.isdir(os.path.join(REPO, "cmd", "dcor-stream")):
        sys.exit(f"dcor-stream: {REPO} is not the dcor-stream repository (no go.mod and cmd/dcor-stream): "
                 "the wheel is built from a checkout of it")
    goos, goarch = target.split("/")
    env = dict(os.environ, CGO_ENABLED="0", GOOS=goos, GOARCH=goarch)
    cmd = [_go(), "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "./cmd/dcor-stream"]
    print(f"dcor-stream: {' '.join(cmd)} (GOOS={goos} GOARCH={goarch} CGO_ENABLED=0)", file=sys.stderr)
    subprocess.run(cmd, cwd=REPO, env=env, check=True)


def _metadata():
    readme = open(os.path.join(HERE, "README.md"), encoding="utf-8").read()
    return "\n".join([
        "Metadata-Version: 2.1", f"Name: {DIST}", f"Version: {VERSION}", f"Summary: {SUMMARY}",
        "License: see the repository", "Requires-Python: >=3.9", "Requires-Dist: numpy",
        "Provides-Extra: torch", 'Requires-Dist: torch; extra == "torch"',
        "Provides-Extra: progress", 'Requires-Dist: tqdm; extra == "progress"',
        "Provides-Extra: plot", 'Requires-Dist: matplotlib; extra == "plot"',
        "Provides-Extra: frames", 'Requires-Dist: pandas; extra == "frames"',
        "Description-Content-Type: text/markdown", "", readme])


def _record_line(arc, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arc},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory, tag, files):
    """files: [(archive name, bytes, executable)]. Returns the wheel's name."""
    dist_info = f"{NAME}-{VERSION}.dist-info"
    wheel = f"Wheel-Version: 1.0\nGenerator: dcor-stream _build/backend.py\nRoot-Is-Purelib: false\n"
    py, abi, plats = tag.split("-")
    for p in plats.split("."):
        wheel += f"Tag: {py}-{abi}-{p}\n"
    files = files + [(f"{dist_info}/METADATA", _metadata().encode(), False),
                     (f"{dist_info}/WHEEL", wheel.encode(), False)]
    record = [_record_line(a, d) for a, d, _ in files] + [f"{dist_info}/RECORD,,"]
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode(), False))
    name = f"{NAME}-{VERSION}-{tag}.whl"
    path = os.path.join(wheel_directory, name)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data, exe in files:
            info = zipfile.ZipInfo(arc, date_time=(2020, 2, 2, 0, 0, 0))
            info.external_attr = (0o100755 if exe else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return name


def _module_files():
    out = []
    pkg = os.path.join(HERE, NAME)
    for f in sorted(os.listdir(pkg)):
        if f.endswith(".py"):
            out.append((f"{NAME}/{f}", open(os.path.join(pkg, f), "rb").read(), False))
    return out


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    target = _target(config_settings)
    exe = "dcor-stream.exe" if target.startswith("windows/") else "dcor-stream"
    with tempfile.TemporaryDirectory() as tmp:
        binpath = os.environ.get("DCOR_STREAM_PACK_BIN")
        if not binpath:
            binpath = os.path.join(tmp, exe)
            build_binary(target, binpath)
        data = open(binpath, "rb").read()
    files = _module_files() + [(f"{NAME}/bin/{exe}", data, True)]
    return _write_wheel(wheel_directory, f"py3-none-{PLATFORMS[target]}", files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """An editable install: a .pth naming python/, and the binary built into
    python/dcor_stream/bin for this machine."""
    target = _target(config_settings)
    exe = "dcor-stream.exe" if target.startswith("windows/") else "dcor-stream"
    os.makedirs(os.path.join(HERE, NAME, "bin"), exist_ok=True)
    build_binary(target, os.path.join(HERE, NAME, "bin", exe))
    files = [(f"__editable__.{NAME}.pth", (HERE + "\n").encode(), False)]
    return _write_wheel(wheel_directory, f"py3-none-{PLATFORMS[target]}", files)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_sdist(sdist_directory, config_settings=None):
    sys.exit("dcor-stream: no sdist: the wheel compiles the Go sources of the whole repository; "
             "build wheels (python/build_wheels.py) or pip install ./python from a checkout")
