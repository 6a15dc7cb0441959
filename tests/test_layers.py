"""minik's layers hold: `lint-imports` checks the contracts in ``.importlinter``.

The layering (api → client → components → cluster/cli; the API server alone with etcd) is
what lets a learner read one component without the others.  This test makes `make test`
fail the moment an import crosses a layer, and says which import did it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_every_import_contract_is_kept() -> None:
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "0 broken" in report and "BROKEN" not in report, report


def test_no_module_imports_itself_through_others() -> None:
    """No import circle between modules, even one only type checkers follow: a circle means
    two modules are one concept split in two, or a shared piece that belongs lower down."""
    graph = grimp.build_graph("minik", cache_dir=None)
    circles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None:
                circles.append(" -> ".join((module, *back)))
    assert circles == []
