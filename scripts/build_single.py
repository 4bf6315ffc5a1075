"""Build dist/httpdlint.pyz: one file an admin copies to a server and runs with its python3.

Usage: python3 scripts/build_single.py [-o OUTPUT] [--python-version 3.10]

A zipapp (PEP 441), run straight from the archive: nothing is unpacked, so it needs no
writable home or cache directory and runs the same as root, as a service user or from a
read-only file system. Everything it bundles is pure Python, so the same file runs on any
Linux architecture with Python 3.10 or newer. Compiled code cannot be imported from a zip, so:

- psutil is not bundled. httpdlint reads /proc itself and needs psutil only where a kernel
  lacks smaps_rollup (before Linux 4.14) and to list the interfaces' addresses when matching a
  PHP-FPM pool's listen address; it imports the distribution's `python3-psutil` when present.
- MarkupSafe's C speed-ups are dropped; it falls back to its pure-Python implementation.

The dependencies are resolved for the oldest supported Python (`--python-version`, 3.10 by
default): pip's own `--python-version` does not evaluate markers for it, so the requirements
whose markers hold there (tomli, for Python < 3.11) are added here, whatever Python builds the
file. Modules are precompiled for the Python that runs this script (unchecked-hash .pyc files
beside the sources: zipimport uses them when the versions match and compiles the sources in
memory otherwise), so build it with the python3 of the servers it is for (Debian 12: 3.11).
"""

from __future__ import annotations

import argparse
import compileall
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipapp
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# Files no import reads: package builds, type stubs, the scripts pip writes.
DROP_SUFFIXES = (".so", ".pyd", ".c", ".h", ".pyi", ".typed")


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def missing(stage: Path, python_version: str) -> list[str]:
    """Requirements of the packages in STAGE that hold on PYTHON_VERSION and are not there."""
    environment = {
        **default_environment(),
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "extra": "",
    }
    installed, wanted = set(), []
    for info in stage.glob("*.dist-info"):
        installed.add(canonicalize_name(info.name.split("-")[0]))
        for line in (info / "METADATA").read_text(encoding="utf-8").splitlines():
            if line.startswith("Requires-Dist:"):
                requirement = Requirement(line.split(":", 1)[1].strip())
                marker = requirement.marker
                if marker is None or marker.evaluate(environment):
                    wanted.append(requirement)
    return sorted(
        {str(r).split(";")[0] for r in wanted if canonicalize_name(r.name) not in installed}
    )


def build(output: Path, python_version: str) -> Path:
    with tempfile.TemporaryDirectory(prefix="httpdlint-pyz-") as tmp:
        wheels, stage = Path(tmp, "wheels"), Path(tmp, "stage")
        pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "-q")
        run(*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT))
        (wheel,) = wheels.glob("httpdlint-*.whl")
        # Binary-only resolution for the target Python version; the wheels' compiled parts are
        # removed below, and every package bundled has a pure-Python path (MarkupSafe).
        install = (*pip, "install", "--target", str(stage), "--only-binary=:all:")
        install += ("--python-version", python_version, "--no-compile")
        run(*install, str(wheel))
        while extra := missing(stage, python_version):
            run(*install, *extra)
        # Not "psutil": its compiled module cannot load from a zip (see the docstring).
        for path in list(stage.iterdir()):
            if path.name.startswith("psutil") or path.name == "bin":
                shutil.rmtree(path)
        for path in sorted(stage.rglob("*"), reverse=True):
            if path.is_file() and path.name.endswith(DROP_SUFFIXES):
                path.unlink()
            elif path.is_dir() and path.name == "__pycache__":
                shutil.rmtree(path)
        compileall.compile_dir(
            stage,
            quiet=1,
            legacy=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        zipapp.create_archive(
            stage,
            output,
            interpreter="/usr/bin/env python3",
            main="httpdlint.cli:main",
            compressed=True,
        )
    os.chmod(output, 0o755)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "dist" / "httpdlint.pyz")
    parser.add_argument("--python-version", default="3.10", help="oldest Python to resolve for")
    args = parser.parse_args()
    path = build(args.output, args.python_version)
    print(f"{path}: {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
