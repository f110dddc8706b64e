"""The book's build reads records and renders pages without importing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_sphinx_extensions_do_not_import_torch() -> None:
    code = (
        "import sys; sys.path.insert(0, '_ext'); "
        "import vaebook; "
        "assert 'torch' not in sys.modules, 'torch was imported'; "
        "assert 'helpers' not in sys.modules, 'helpers was imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
