"""``signing`` stays framework-free: importing it pulls in no web framework, ORM or registry code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = {"litestar", "sqlmodel", "sqlalchemy", "registry"}
MODULES = [
    "signing",
    "signing.errors",
    "signing.jcs",
    "signing.multibase",
    "signing.multikey",
    "signing.keys",
    "signing.data_integrity",
]


def test_every_signing_module_is_listed() -> None:
    found = {f"signing.{p.stem}" for p in (PROJECT_ROOT / "signing").glob("*.py") if p.stem != "__init__"}
    assert found == set(MODULES) - {"signing"}


def test_import_in_fresh_interpreter_loads_no_framework() -> None:
    code = (
        f"import {', '.join(MODULES)}\n"
        "import sys\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r})\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_no_forbidden_import_statements() -> None:
    for path in (PROJECT_ROOT / "signing").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(name.split(".")[0] in FORBIDDEN for name in names), (path.name, names)
