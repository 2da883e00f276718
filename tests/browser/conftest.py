"""Every test under tests/browser is marked ``browser``: ``pytest -m "not browser"`` is the
fast loop without chromium."""
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
