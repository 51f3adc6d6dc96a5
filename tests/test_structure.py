"""The shape of the package: no import cycles, a light command line, a job that stays as read.

The import graph is read from the source with ``ast`` (every ``import``,
function-level ones included; ``if TYPE_CHECKING:`` blocks are left out, as
they never run), so a cycle fails here before it fails for a user.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

import sn_importer as sn
from sn_importer.engine import Progress
from sn_importer.sandbox import running_sandbox

PACKAGE = Path(sn.__file__).resolve().parent
SAMPLE = PACKAGE.parent / "samples" / "serials.csv"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every import node that runs (``if TYPE_CHECKING:`` bodies skipped)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _imports_in(child))
            continue
        yield from _imports_in(node)


def _imports_in(node: ast.AST):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _imports(node)


def _targets(name: str, path: Path, node: ast.AST, known: set[str]) -> set[str]:
    """The package modules an import node loads."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in known}
    if node.level:
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        base = f"{base}.{node.module}" if node.module else base
    else:
        base = node.module or ""
    found = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known}
    if base in known and len(found) < len(node.names):
        found.add(base)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = {t for node in _imports(tree) for t in _targets(name, path, node, known)} - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if not state.get(nxt) and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if not state.get(start) and (cycle := visit(start)):
            return cycle
    return None


def test_the_package_has_no_import_cycles():
    graph = import_graph()
    assert "sn_importer.run" in graph["sn_importer.job"], "the graph is read (job imports run)"
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


#: The package's layers, lowest first (README, "For developers"): a module imports from its own
#: layer and the ones above it in this list, never from a later one. A name ending in ".*" is a
#: subpackage whole.
LAYERS = {
    "tables and plumbing": ["errors", "status", "clock", "interrupt", "resources", "filesafety", "storage",
                            "locks", "sqlitefile", "memory", "textbytes", "cell_text", "words", "resource_types", "columns", "formats", "katana", "schemas"],
    "reading a sheet": ["template", "mapping", "header", "numfmt", "office", "xlsx", "sheetscan", "xls", "ods", "package",
                        "source", "guard", "reader", "csv_reader", "workbook_cells", "workbook_reader", "footer"],
    "rows": ["schema", "validate", "plan", "strategy", "references"],
    "Katana": ["settings", "katana.*", "sandbox.*"],
    "run and truth": ["truth", "outcome", "fold", "reads", "engine", "journal", "remote", "estimate", "landing"],
    "results and the library": ["run", "result", "report.*", "restore.*", "notebook", "blank", "job"],
    "front ends": ["console", "cli.*", "dropfolder", "dropfile", "watch", "watchlog", "history", "web.*", "__main__", ""],
}


def _layer_of(module: str) -> int:
    short = module.removeprefix("sn_importer").removeprefix(".")
    for index, names in enumerate(LAYERS.values()):
        for name in names:
            if short == name or (name.endswith(".*") and (short == name[:-2] or short.startswith(name[:-1]))):
                return index
    raise AssertionError(f"{module} is in no layer of LAYERS (tests/test_structure.py and the README's map)")


def test_every_module_imports_only_from_its_layer_and_the_ones_below():
    graph = import_graph()
    layers = {module: _layer_of(module) for module in graph}
    upward = sorted(f"{m} ({list(LAYERS)[layers[m]]}) imports {t} ({list(LAYERS)[layers[t]]})"
                    for m, targets in graph.items() for t in targets if layers[t] > layers[m])
    assert not upward, "\n".join(upward)


def test_the_layer_check_sees_an_upward_import():
    assert _layer_of("sn_importer.katana.quota") > _layer_of("sn_importer.formats")
    assert _layer_of("sn_importer.journal") > _layer_of("sn_importer.katana.quota"), \
        "the quota ledger (Katana) must not reach into the journal (run)"


def test_rooms_stay_small():
    """No module over 400 lines, no function over 60: past those sizes a module does several jobs."""
    too_long = []
    for name, path in _modules().items():
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > 400:
            too_long.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                too_long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not too_long, too_long


def test_help_imports_no_pandas():
    """``sn-importer --help`` (and a command's help) start without pandas, pandera or the job."""
    probe = ("import sys\nfrom sn_importer.cli import app\n"
             "for args in (['--help'], ['apply', '--help'], ['watch', '--help']):\n"
             "    try:\n        app(args, prog_name='sn-importer')\n    except SystemExit:\n        pass\n"
             "print('LOADED', sorted(m for m in ('pandas', 'pandera', 'numpy', 'sn_importer.job', 'httpx')"
             " if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Usage: sn-importer apply" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "LOADED []"


# --------------------------------------------------------------------------- a job stays as read


def test_runs_return_results_and_leave_the_job_as_read(tmp_path, monkeypatch):
    monkeypatch.setenv("SN_IMPORTER_STATE_DIR", str(tmp_path / "state"))
    job = sn.read(SAMPLE)
    before = job.rows.copy(deep=True)
    reports: list[Progress] = []
    with running_sandbox() as server:
        preview = job.preview(base_url=server.base_url, api_key="sandbox", progress=reports.append)
        applied = job.apply(base_url=server.base_url, api_key="sandbox")
    pd.testing.assert_frame_equal(job.rows, before)
    assert isinstance(preview, sn.RunResult) and preview.mode == sn.Mode.PREVIEW == "preview"
    assert preview.counts()["planned"] == 15 and applied.counts()["deleted"] == 15
    assert preview.run_id != applied.run_id
    assert reports[-1].statuses == preview.counts(), "progress carries the live counts"
    assert applied.removed["id"].notna().sum() == 15 and preview.removed.empty
    assert job.validation().counts() == job.counts()


def test_a_result_summary_keeps_the_json_keys():
    summary = sn.read(SAMPLE).validation().summary()
    assert list(summary) == ["input", "output", "mode", "run_id", "template", "base_url", "rows", "statuses",
                             "requests", "requests_per_resource", "plan", "mapping", "sheets_skipped", "sheet_notes", "started_at", "finished_at",
                             "error", "notes", "exit_code"]
    assert json.loads(json.dumps(summary))["mode"] == "validate"


def test_a_run_that_stops_says_why_in_kind_and_words(tmp_path, monkeypatch):
    monkeypatch.delenv("KATANA_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    result = sn.read(SAMPLE).preview(base_url="http://127.0.0.1:9/v1")
    assert result.stop == sn.Stop(sn.StopKind.NO_KEY, result.error) and "KATANA_API_KEY" in result.error
    assert result.exit_code == 2 and result.summary()["error"] == result.error


def test_an_outcome_keeps_the_journal_format():
    outcome = sn.Outcome(sn.Status.DELETED, "", 7, "2026-11-27T10:00:00Z", sn.Cause.VERIFIED)
    assert outcome.to_json() == ["deleted", "", 7, "2026-11-27T10:00:00Z", "verified"]
    assert sn.Outcome.from_json(json.loads(json.dumps(outcome.to_json()))) == outcome
    # a journal written before outcomes carried their cause still reads
    assert sn.Outcome.from_json(["deleted", "", 7, "2026-11-27T10:00:00Z"]).cause == sn.Cause.NONE
