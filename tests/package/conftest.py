# SPDX-License-Identifier: Apache-2.0
"""The package tests build the Debian package from the plain build directory and install it on
this machine: they need root, a build configured with CMAKE_INSTALL_PREFIX=/usr, and the tools
scripts/setup-deps installs. Anything missing fails the run with what to do."""

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

BUILD = os.environ.get("PEZ_BUILD_DIR", os.path.join(ROOT, "build"))
TOOLS = {
    "cpack": "cmake", "dpkg": "dpkg", "dpkg-deb": "dpkg", "lintian": "lintian", "rpmbuild": "rpm",
    "systemd-analyze": "systemd", "mandoc": "mandoc", "bash": "bash",
}


def run(argv, check=True, **kwargs):
    """Runs a command; with check, a failure raises with its output."""
    result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def pytest_configure(config):
    problems = []
    if os.geteuid() != 0:
        problems.append("the package tests install a package: run them as root")
    for tool, package in TOOLS.items():
        if shutil.which(tool) is None:
            problems.append(f"{tool} is missing: install {package} (scripts/setup-deps)")
    if not os.path.isfile(os.path.join(BUILD, "CMakeCache.txt")):
        problems.append(f"no build in {BUILD}: run scripts/build build -DCMAKE_INSTALL_PREFIX=/usr first")
    else:
        prefix = subprocess.run(["cmake", "-L", "-N", BUILD], capture_output=True, text=True).stdout
        if "CMAKE_INSTALL_PREFIX:PATH=/usr\n" not in prefix:
            problems.append(f"{BUILD} is not configured for packages: "
                            "scripts/build build -DCMAKE_INSTALL_PREFIX=/usr")
    if problems:
        raise pytest.UsageError("cannot run the package tests:\n  " + "\n  ".join(problems))
