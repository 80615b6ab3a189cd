"""pyqtgraph views sharing one time axis (seconds): waveform, spectrogram, attention, trajectories."""

import pyqtgraph as pg

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, useOpenGL=False)
