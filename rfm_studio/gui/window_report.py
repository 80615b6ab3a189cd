"""What an edit changed and what it removed, in the main window (a mixin of MainWindow): the
change report after an edit (progress line, status bar, History), and R, the removed sound
(A − B), as a third source to hear and see beside A and B."""

from __future__ import annotations

import numpy as np

from .tasks import display_mel
from .views.spectrogram import mel_levels

NO_CHANGE = "No audible change"


class ReportMixin:
    # -- the change report ----------------------------------------------------------------
    def change_params(self, report, result) -> dict:
        """The report as plain values kept with the version (its history entry and tooltip)."""
        if report is None:
            return {}
        from ..core.change_report import advice

        if not report.unchanged:
            return {"change": report.text}
        tip = advice(result.instruction, region=result.params.get("region") is not None,
                     strength=result.params.get("strength"), cli=False)
        return {"change": f"{NO_CHANGE}: {report.text}. {tip}", "no_change": True}

    def show_change_report(self, v, report) -> None:
        text = v.params.get("change", "")
        if v.params.get("no_change"):
            self.panel.set_progress_text(f"{NO_CHANGE} · version {v.id} (see History)")
            self.statusBar().showMessage(text, 20000)
        else:
            self.panel.set_progress_text(f"Done in {v.seconds:.1f} s · version {v.id}")
            self.statusBar().showMessage(f"Edit finished in {v.seconds:.1f} s: {text or v.instruction}", 10000)

    # -- R: what B removed from A -----------------------------------------------------------
    def removed_audio(self):
        """A − B of the versions compared (None without a B); computed once per pair."""
        a_id, b_id = self.compare
        a, b = self.history.get(a_id), self.history.get(b_id)
        if a is None or b is None or a.audio.shape != b.audio.shape:
            return None
        key = (self._doc, a_id, b_id)
        cached = getattr(self, "_removed_cache", None)
        if cached is None or cached[0] != key:
            self._removed_cache = (key, (a.audio - b.audio).astype(np.float32))
        return self._removed_cache[1]

    def _show_removed_spectrogram(self):
        a_id, b_id = self.compare
        key = (self._doc, a_id, b_id)
        mels = self.__dict__.setdefault("_removed_mels", {})
        mel = mels.get(key)
        ref = self.history.mels.get(a_id)
        if mel is None:
            self.spec.set_mel(None)
            self.spec.set_message("Computing spectrogram…")
            r = self.removed_audio()
            if r is not None and not any(k == key and self.runner.is_live(j)
                                         for j, k in self.__dict__.setdefault("_removed_jobs", {}).items()):
                sr = self.history.get(a_id).sample_rate
                job = self.runner.submit("mel", lambda c: display_mel(r, sr), label="mel",
                                         on_returned=lambda mel: self._removed_mel_done(key, mel),
                                         on_errored=lambda _err: self._update_actions(),
                                         on_aborted=self._update_actions,
                                         on_finished=lambda: self._removed_jobs.pop(job, None))
                self._removed_jobs[job] = key
        else:
            self.spec.set_message(None)
            self.spec.set_mel(mel, mel_levels(ref) if ref is not None else None)
        self.spec_tag.setText(f"R · removed: {self._label(a_id)} − {self._label(b_id)}  ·  log-mel 64 bands")
        self.spec_tag.adjustSize()

    def _removed_mel_done(self, key, value) -> None:
        if key[0] != self._doc:
            return
        mels = self.__dict__.setdefault("_removed_mels", {})
        if len(mels) > 4:
            mels.clear()
        mels[key] = value
        if self.ab == 2:
            self._show_spectrogram()
