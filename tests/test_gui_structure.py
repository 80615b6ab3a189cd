"""The main window is composed of controllers, and each controller declares what it uses of the
window: every ``self.win.X`` (or ``w.X`` with ``w = self.win``) it reads or writes is listed on
its host Protocol. Read from the source (no Qt needed)."""

import ast
from pathlib import Path

GUI = Path(__file__).resolve().parents[1] / "rfm_studio" / "gui"
# module -> (controller class, the Protocol it declares)
CONTROLLERS = {
    "window_actions.py": ("WindowActions", "ActionsWindow"),
    "window_document.py": ("DocumentController", "DocumentWindow"),
    "window_edit.py": ("EditController", "EditHost"),
    "window_export.py": ("Exporter", "ExportWindow"),
    "window_finetune.py": ("FinetuneLink", "FinetuneHost"),
    "window_find.py": ("FindController", "FindHost"),
    "window_model.py": ("ModelController", "ModelWindow"),
    "window_playback.py": ("PlaybackController", "PlaybackHost"),
    "window_report.py": ("RemovedSound", "RemovedWindow"),
    "window_views.py": ("CompareView", "CompareWindow"),
    "session.py": ("SessionController", "SessionWindow"),
    "session_restore.py": ("Restorer", "RestoreWindow"),
}


def _classes(tree):
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def _declared(proto: ast.ClassDef) -> set:
    out = set()
    for n in proto.body:
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
            out.add(n.target.id)
        elif isinstance(n, ast.FunctionDef):
            out.add(n.name)
    return out


def _used(cls: ast.ClassDef) -> set:
    """Attributes taken of the window: ``self.win.X`` and ``w.X`` where ``w = self.win``."""
    used = set()
    for fn in [n for n in cls.body if isinstance(n, ast.FunctionDef)]:
        aliases = {"win"} if fn.name == "__init__" else set()
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign):
                targets = node.targets[0].elts if isinstance(node.targets[0], ast.Tuple) else node.targets
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                for t, v in zip(targets, values):
                    if (isinstance(t, ast.Name) and isinstance(v, ast.Attribute) and v.attr == "win"
                            and isinstance(v.value, ast.Name) and v.value.id == "self"):
                        aliases.add(t.id)
        for node in ast.walk(fn):
            if not isinstance(node, ast.Attribute):
                continue
            base = node.value
            if (isinstance(base, ast.Attribute) and base.attr == "win" and isinstance(base.value, ast.Name)
                    and base.value.id == "self"):
                used.add(node.attr)
            elif isinstance(base, ast.Name) and base.id in aliases:
                used.add(node.attr)
    return used


def test_main_window_has_no_mixins():
    tree = ast.parse((GUI / "main_window.py").read_text(encoding="utf-8"))
    bases = [ast.unparse(b) for b in _classes(tree)["MainWindow"].bases]
    assert bases == ["QMainWindow"]


def test_each_controller_uses_only_what_its_protocol_declares():
    for module, (cls_name, proto_name) in CONTROLLERS.items():
        classes = _classes(ast.parse((GUI / module).read_text(encoding="utf-8")))
        used, declared = _used(classes[cls_name]), _declared(classes[proto_name])
        assert used, f"{module}: {cls_name} reads nothing of the window? (the scan is broken)"
        assert used <= declared, f"{module}: {cls_name} uses {sorted(used - declared)} not declared on {proto_name}"


def test_window_modules_stay_small():
    for name in ["main_window.py", "jobs.py", *CONTROLLERS]:
        n = len((GUI / name).read_text(encoding="utf-8").splitlines())
        assert n <= 400, f"{name} has {n} lines"
