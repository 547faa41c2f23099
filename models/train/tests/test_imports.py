"""The trainer's modules import each other without a circle: shared pieces
live in core.py, which imports none of the stages."""
import ast
import os

import likeness_train

PKG = os.path.dirname(likeness_train.__file__)


def _graph():
    g = {}
    for name in os.listdir(PKG):
        if not name.endswith(".py"):
            continue
        mod = name[:-3]
        tree = ast.parse(open(os.path.join(PKG, name), encoding="utf-8").read())
        deps = set()
        for node in ast.walk(tree):  # lazy imports inside functions count too
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(a.name for a in node.names)
        g[mod] = deps - {mod}
    return g


def test_no_import_circle():
    g = _graph()
    state = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", "import circle: " + " -> ".join(path + [m])
        state[m] = "open"
        for d in sorted(g.get(m, ())):
            visit(d, path + [m])
        state[m] = "done"

    for m in sorted(g):
        visit(m, [])


def test_core_imports_no_stage():
    assert _graph()["core"] <= {"nets"}
