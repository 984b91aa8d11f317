# SPDX-License-Identifier: Apache-2.0
"""The fault tests use the integration tests' harness and fixtures (tests/integration/)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))

from fixtures import (cluster, db, pezd, pytest_configure, pytest_runtest_makereport, start_pezd,  # noqa: E402,F401
                      workdir)
