"""core.pids.pid_alive: the one check, on every platform, of whether a staging folder's,
temporary file's or session's writer is still running."""

import os
import sys
import types

import pytest

from process_helpers import dead_pid
from rfm_studio.core import pids


@pytest.mark.skipif(sys.platform == "win32", reason="the POSIX branch")
def test_posix_running_gone_and_impossible_pids():
    assert pids.pid_alive(os.getpid())
    assert pids.pid_alive(os.getppid())
    assert not pids.pid_alive(dead_pid())
    for pid in (0, -1, 2 ** 40, 10 ** 30):  # a huge id from a staging folder's name: not alive
        assert not pids.pid_alive(pid), pid


def test_windows_branch_asks_windows_and_never_signals(monkeypatch):
    """On Windows os.kill(pid, 0) sends CTRL_C_EVENT: the branch asks the exit code instead."""
    def no_kill(*_):
        raise AssertionError("os.kill called on Windows")

    codes = {101: pids._STILL_ACTIVE, 102: 0, 103: None}  # running, exited, cannot be opened
    asked = []

    def exit_code(pid):
        asked.append(pid)
        return codes[pid]

    monkeypatch.setattr(pids, "sys", types.SimpleNamespace(platform="win32"))
    monkeypatch.setattr(pids.os, "kill", no_kill)
    monkeypatch.setattr(pids, "_win_exit_code", exit_code)
    assert pids.pid_alive(101)
    assert not pids.pid_alive(102)
    assert not pids.pid_alive(103)
    assert pids.pid_alive(os.getpid())
    assert not pids.pid_alive(0) and not pids.pid_alive(2 ** 40)
    assert asked == [101, 102, 103]  # an impossible id is not even asked about


@pytest.mark.skipif(sys.platform == "win32", reason="the POSIX branch (os.kill)")
def test_the_gui_sessions_and_the_swap_judge_writers_by_it(tmp_path, monkeypatch):
    """What pid_alive answers (through os.kill) decides a staging folder's and a session's fate:
    a gone writer's are stale or crashed, a running writer's are not."""
    from rfm_studio.core import atomic, swap
    from rfm_studio.gui import session

    gone, running = 4242, 4243

    def kill(pid, sig):
        if pid == gone:
            raise ProcessLookupError(pid)

    monkeypatch.setattr(os, "kill", kill)
    assert swap.stale_stage(tmp_path / f".rfm-stage-{gone}-0123abcd-model")
    assert not swap.stale_stage(tmp_path / f".rfm-stage-{running}-0123abcd-model")
    assert atomic.pid_alive is pids.pid_alive
    monkeypatch.setenv("RFM_STUDIO_DATA_DIR", str(tmp_path / "data"))
    for pid in (gone, running):
        d = session.sessions_dir() / f"s{pid}"
        d.mkdir(parents=True)
        (d / session.STATE).write_text("{}")
        (d / session.LOCK).write_text(f"{pid} host")
    assert [d.name for d in session.crashed_sessions()] == [f"s{gone}"]
