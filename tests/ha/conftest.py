# SPDX-License-Identifier: Apache-2.0
"""The HA tests use the integration tests' harness (tests/integration/) and a Patroni cluster
(patroni.py)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))

from fixtures import pytest_configure, pytest_runtest_makereport, workdir  # noqa: E402,F401
