# SPDX-License-Identifier: Apache-2.0
"""The benchmark's own tests use the integration tests' PostgreSQL fixture (tests/integration/)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))

from fixtures import cluster, pytest_configure  # noqa: E402,F401
