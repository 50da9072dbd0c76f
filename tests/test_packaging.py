"""The distribution: a wheel built from the repository carries its licence and builds without deprecation warnings."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "demo_search", "workers", "db")
"""What the build reads (a copy is built, so the build leaves nothing in the working tree)."""


def test_the_wheel_builds_without_deprecation_warnings_and_carries_the_licence(tmp_path: Path) -> None:
    source = tmp_path / "source"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    # Without build isolation the build uses this environment's setuptools, so it needs no package index.
    command = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-v",
               "-w", str(tmp_path / "dist")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    warnings = [line for line in output.splitlines() if "deprecat" in line.lower()]
    assert warnings == []

    (wheel,) = (tmp_path / "dist").glob("demo_search-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        headers = archive.read(metadata).decode("utf-8").split("\n\n", 1)[0].splitlines()
        (licence,) = [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(licence) == (REPO / "LICENSE").read_bytes()
    assert "License-Expression: Apache-2.0" in headers and "License-File: LICENSE" in headers
    assert not any(header.startswith("License: ") for header in headers)  # the deprecated free-text field
