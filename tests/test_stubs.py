"""Every compiled module ships a .pyi stub that names its public classes and functions (the
Python face is typed: py.typed is in the package)."""
import ast
import importlib
import inspect
import types
from pathlib import Path

import pytest

import fastpath

PKG = Path(fastpath.__file__).parent
MODULES = sorted(
    ".".join(p.relative_to(PKG.parent).with_suffix("").with_suffix("").parts)
    for p in PKG.rglob("*.so"))


def stub_names(stub):
    tree = ast.parse(stub.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.ImportFrom, ast.Import)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def test_py_typed_marker():
    assert (PKG / "py.typed").exists()


@pytest.mark.parametrize("name", MODULES)
def test_compiled_module_has_a_complete_stub(name):
    mod = importlib.import_module(name)
    stub = Path(mod.__file__).parent / (name.rsplit(".", 1)[1] + ".pyi")
    assert stub.exists(), f"{name} has no stub {stub.name}"
    declared = stub_names(stub)
    # Classes and functions defined by the module (constants may be left to the .pxd).
    public = {n for n, v in vars(mod).items()
              if not n.startswith("_") and (inspect.isclass(v) or callable(v))
              and not isinstance(v, types.ModuleType) and getattr(v, "__module__", None) == name}
    missing = sorted(public - declared)
    assert not missing, f"{stub.name} does not declare: {missing}"
