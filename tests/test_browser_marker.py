"""``-m browser`` selects exactly the tests under tests/browser; ``-m "not browser"``
(the fast loop) none of them."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def collected(marker: str) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", marker],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "::" in line]


def test_browser_marker_splits_the_suite():
    browser, fast = collected("browser"), collected("not browser")
    browser_files = {line.split("::")[0] for line in browser}
    expected = {str(p.relative_to(ROOT)) for p in (ROOT / "tests/browser").glob("test_*.py")}
    assert browser_files == expected
    assert all(line.startswith("tests/browser/") for line in browser)
    assert fast and not any(line.startswith("tests/browser/") for line in fast)
    assert "tests/test_browser_marker.py::test_browser_marker_splits_the_suite" in fast
