"""Linux start-up: the xcb libraries PySide6's X11 plugin needs are checked before Qt aborts."""

from __future__ import annotations

import subprocess

import pytest

from rfm_studio import xcb_check

LDD = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /x/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
\tlibxcb-icccm.so.4 => not found
"""


def test_missing_libraries_are_read_from_ldd_and_named_with_their_packages(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    monkeypatch.setattr(xcb_check.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(xcb_check.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 0, LDD, ""))
    libs = xcb_check.missing_libraries(plugin)
    assert libs == ["libxcb-cursor.so.0", "libxcb-icccm.so.4"]
    assert xcb_check.install_command(libs) == "sudo apt install libxcb-cursor0 libxcb-icccm4"
    msg = xcb_check.message(libs)
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in msg and "libxcb-cursor.so.0" in msg


@pytest.mark.parametrize("env, xcb", [
    ({"DISPLAY": ":0"}, True),
    ({"QT_QPA_PLATFORM": "offscreen"}, False),
    ({"QT_QPA_PLATFORM": "xcb"}, True),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, False),
    ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}, False),
])
def test_the_check_runs_only_when_qt_will_use_xcb(env, xcb, monkeypatch):
    monkeypatch.setattr(xcb_check.sys, "platform", "linux")
    assert xcb_check.uses_xcb(env) is xcb


def test_the_app_prints_the_install_line_and_exits_before_qt(monkeypatch, capsys):
    from rfm_studio import app

    monkeypatch.delenv("RFM_STUDIO_SKIP_XCB_CHECK", raising=False)
    monkeypatch.setattr(xcb_check, "uses_xcb", lambda env=None: True)
    monkeypatch.setattr(xcb_check, "missing_libraries", lambda plugin=None: ["libxcb-keysyms.so.1"])
    monkeypatch.setattr(app, "create_app", lambda: pytest.fail("Qt must not start"))
    assert app.main([]) == 2
    err = capsys.readouterr().err
    assert "sudo apt install libxcb-keysyms1" in err and "Traceback" not in err


def test_diagnose_reports_the_xcb_libraries(monkeypatch):
    monkeypatch.setattr(xcb_check.sys, "platform", "linux")
    monkeypatch.setattr(xcb_check, "missing_libraries", lambda plugin=None: ["libxcb-icccm.so.4"])
    monkeypatch.setattr(xcb_check, "qxcb_plugin", lambda: xcb_check.Path("/x/libqxcb.so"))
    monkeypatch.setattr(xcb_check.shutil, "which", lambda name: "/usr/bin/ldd")
    line = xcb_check.report()
    assert "MISSING libxcb-icccm.so.4" in line and "sudo apt install libxcb-icccm4" in line
    from rfm_studio.diagnose import diagnose

    assert "Qt xcb libraries: MISSING" in diagnose()


def test_on_this_machine_the_real_plugin_is_checked():
    """ldd on PySide6's real plugin runs and returns a list (empty where all are installed)."""
    if xcb_check.qxcb_plugin() is None or xcb_check.shutil.which("ldd") is None:
        pytest.skip("no xcb plugin or ldd here")
    libs = xcb_check.missing_libraries()
    assert isinstance(libs, list) and all(lib.endswith(tuple(f".so.{i}" for i in range(10))) for lib in libs)
