# SPDX-License-Identifier: Apache-2.0
"""The integration tests' fixtures and hooks, from fixtures.py (the fault tests share them)."""

from fixtures import (bouncer, cluster, db, pezd, pytest_collection_modifyitems, pytest_configure,  # noqa: F401
                      pytest_runtest_makereport, start_pezd, workdir)
