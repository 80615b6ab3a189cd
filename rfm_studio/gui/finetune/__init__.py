"""The Fine-tuning tab (tab.py) and its pieces: the triplet table, its Add dialog and its checks
(triplet_table.py, add_dialog.py, checks.py), the settings (settings_form.py), training and the loss curve
(training_panel.py), the before/after preview (preview_panel.py), the adapters on disk
(adapters_panel.py), the tab's one job on the model (job_slot.py), listening (playback.py);
pairing files into triplets (pairing.py) and the worker-side jobs that check, stage, train
and preview (work.py). Torch-free at import."""
