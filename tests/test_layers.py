"""The package's shape: one direction from data to book. Every import inside `reproduce` (lazy ones too) goes to
the same layer or a lower one, and the list of experiments is spelled out once (catalog.py)."""
import ast
from pathlib import Path

from reproduce import catalog
from reproduce.results import REPO_ROOT

PKG = REPO_ROOT / "reproduce"
# lowest first; a module may import its own layer and those above it in this list, never those below
LAYERS = [
    ("base", {"reproduce.errors", "reproduce.io", "reproduce.stats", "reproduce.paper", "reproduce.catalog",
              "reproduce.machine", "reproduce.pauses"}),
    ("training core", {"reproduce.train"}),
    ("data and methods", {"reproduce.datasets", "reproduce.bias", "reproduce.specialist_ensembles",
                          "reproduce.phone_error_rate"}),
    ("records", {"reproduce.results", "reproduce.profiles", "reproduce.verdicts"}),
    ("experiments", {"reproduce.experiments"}),
    ("reports", {"reproduce.reports"}),
    ("application", {"reproduce.scorecard", "reproduce.bench", "reproduce.chapter", "reproduce.cli"}),
]


def layer_of(module: str) -> int:
    for i, (_, roots) in enumerate(LAYERS):
        if any(module == r or module.startswith(r + ".") for r in roots):
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = REPO_ROOT) -> list[tuple[str, int]]:
    """(absolute module, line) of every import of the package in a file; `from . import x` names x's module."""
    parts = path.relative_to(root).with_suffix("").parts
    mod = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("reproduce")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("reproduce"):
                continue
            for a in node.names:  # a submodule imported by name belongs to its own layer
                sub = f"{target}.{a.name}"
                where = root / sub.replace(".", "/")
                out.append((sub if where.with_suffix(".py").exists() or where.is_dir() else target, node.lineno))
    return out


def test_every_import_points_down_or_sideways():
    wrong = []
    for path in sorted(PKG.rglob("*.py")):
        here = module_name(path)
        for target, line in imports(path):
            if target == "reproduce":
                continue
            if layer_of(target) > layer_of(here):
                wrong.append(f"{path.relative_to(REPO_ROOT)}:{line} ({LAYERS[layer_of(here)][0]}) imports {target} "
                             f"({LAYERS[layer_of(target)][0]})")
    assert not wrong, "imports from a lower layer to a higher one:\n" + "\n".join(wrong)


def test_the_layer_check_sees_an_upward_import(tmp_path):
    """The check above can fail: a training-core module that imported a report would be named."""
    for f in ("reproduce/train/probe.py", "reproduce/reports/common.py", "reproduce/train/gemm.py"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("")
    probe = tmp_path / "reproduce/train/probe.py"
    probe.write_text("from ..reports import common\nfrom . import gemm\n\ndef f():\n    from ..reports.common import x\n")
    got = [(t, layer_of(t)) for t, _ in imports(probe, tmp_path)]
    assert got == [("reproduce.reports.common", 5), ("reproduce.train.gemm", 1), ("reproduce.reports.common", 5)]
    assert layer_of("reproduce.train.probe") == 1


def test_the_experiment_list_is_written_once():
    """No literal tuple, list, set or dict outside catalog.py names three or more of the experiments (the
    profiles, the CLI, the scorecard, the notebooks' test and the tolerances all derive from catalog)."""
    names = set(catalog.EXPERIMENTS)
    found = []
    files = [*PKG.rglob("*.py"), *(REPO_ROOT / "tests").glob("*.py"), *(REPO_ROOT / "scripts").glob("*.py")]
    for path in files:
        if path == PKG / "catalog.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            elts = [*node.keys, *node.values] if isinstance(node, ast.Dict) else node.elts if isinstance(
                node, (ast.Tuple, ast.List, ast.Set)) else []
            spelled = {e.value for e in elts if isinstance(e, ast.Constant) and e.value in names}
            if len(spelled) >= 3:
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert not found, "the experiment list is spelled out again (derive it from reproduce.catalog): " + ", ".join(found)


def test_the_catalog_matches_the_modules_and_notebooks():
    for c in catalog.CHAPTERS:
        assert (PKG / "experiments" / f"{c.key}.py").exists() and (PKG / "reports" / f"{c.key}.py").exists()
        assert (REPO_ROOT / "notebooks" / f"{c.notebook}.ipynb").exists()
    notebooks = {p.stem for p in (REPO_ROOT / "notebooks").glob("*.ipynb")}
    assert notebooks == {c.notebook for c in catalog.CHAPTERS} | set(catalog.PAGES)
