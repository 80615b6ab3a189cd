"""A/B playback through sounddevice (PortAudio).

Each source gets one preallocated float32 buffer, shaped [frames, device channels] at the
stream's rate (B optionally loudness-matched to A in its own prescaled copy). Making them
(resampling, channel folding, loudness) is ``prepare``: with ``Player.io`` set (the window's
I/O worker, ``jobs.io_runner``) it runs there and the UI thread only installs the result;
versions already prepared (an A/B refresh) are installed at once from a small cache. A
select / seek / loop / play asked for while a preparation is under way applies to the new
buffers when they arrive. The audio callback only copies slices of the selected buffer into
the output: no Qt, no locks, no array allocation. Switching A/B changes an index, so B
continues at the exact sample where A was. Positions are plain ints.

Without PortAudio or an output device, ``available`` is False and ``reason`` says why;
the app keeps running with playback disabled.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import partial

import numpy as np

PORTAUDIO = threading.Lock()  # PortAudio is not thread-safe: every call into it (the I/O worker's
# probe and rate check, the UI thread's streams) holds this; the audio callback never takes it


def _fit_channels(x: np.ndarray, channels: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[1] == channels:
        out = x
    elif channels == 1:
        out = x.mean(axis=1, keepdims=True)
    elif x.shape[1] == 1:
        out = np.repeat(x, channels, axis=1)
    elif x.shape[1] > channels == 2:
        out = downmix_stereo(x)
    else:
        out = x[:, :channels] if x.shape[1] > channels else np.pad(x, ((0, 0), (0, channels - x.shape[1])))
    return np.ascontiguousarray(out, dtype=np.float32)


def downmix_stereo(x: np.ndarray) -> np.ndarray:
    """[n, ch > 2] -> [n, 2], so a surround clip is heard whole on a stereo device. Six channels
    are taken as 5.1 in WAV order (L, R, C, LFE, Ls, Rs) and folded down as ITU-R BS.775 does
    (C and the surrounds at -3 dB, LFE left out); other layouts send even channels left and odd
    ones right. Scaled so that full-scale channels cannot clip; A and B use the same fold."""
    if x.shape[1] == 6:
        k = 0.7071
        left = x[:, 0] + k * x[:, 2] + k * x[:, 4]
        right = x[:, 1] + k * x[:, 2] + k * x[:, 5]
        return np.stack([left, right], axis=1) / (1 + 2 * k)
    return np.stack([x[:, 0::2].mean(axis=1), x[:, 1::2].mean(axis=1)], axis=1)


def _rms(x: np.ndarray, chunk: int = 1 << 20) -> float:
    """RMS without a float64 copy of the clip: float32 dot products of 1M-sample blocks,
    summed in float64 (on the UI thread: 10 min of 48 kHz stereo in tens of ms, not 0.4 s)."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    if flat.size == 0:
        return 0.0
    total = sum(float(np.dot(flat[i:i + chunk], flat[i:i + chunk])) for i in range(0, flat.size, chunk))
    return float(np.sqrt(total / flat.size))


def loudness_gain(a: np.ndarray, b: np.ndarray, limit_db: float = 12.0) -> float:
    """Gain that gives B the RMS level of A (clamped to +/- limit_db)."""
    ra, rb = _rms(a), _rms(b)
    if ra < 1e-8 or rb < 1e-8:
        return 1.0
    lim = 10 ** (limit_db / 20)
    return float(np.clip(ra / rb, 1 / lim, lim))


_MISS = object()


class _Memo:
    """The work behind an A/B refresh (resampling, channel folding, loudness) is done once per
    version: a few recent results are kept, matched by the arrays' identity. Used by the UI
    thread (lookups) and by the worker that prepares (lookups and new results), so locked."""

    def __init__(self, size: int = 6):
        self._items: list = []
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple):
        """The value stored under ``key`` (moved to the front: the least recently used goes first), or _MISS."""
        with self._lock:
            for i, (k, v) in enumerate(self._items):
                if len(k) == len(key) and all(p is q if isinstance(p, np.ndarray) else p == q for p, q in zip(k, key)):
                    self._items.insert(0, self._items.pop(i))
                    return v
        return _MISS

    def put(self, key: tuple, value) -> None:
        with self._lock:
            self._items = [(key, value)] + self._items[:self._size - 1]  # A, B, R, the gain and the matched copy


@dataclass(frozen=True)
class Prepared:
    """The buffers a player installs (made by ``prepare``, in a worker or on the UI thread)."""
    bufs: tuple  # float32 [frames, channels] per source (A, B, R), all the same length
    rate: int
    gain_b: float


class NotPrepared(LookupError):
    """``prepare(..., cached_only=True)`` found a piece that has not been made yet."""


def prepare(memo: _Memo, srcs: tuple, sr_in: int, rate: int, channels: int, match: bool,
            cached_only: bool = False, cancel=None) -> Prepared:
    """The device's versions of ``srcs`` (its rate, its channels), B's loudness gain and, with
    ``match``, B prescaled by it. ``cached_only``: from ``memo`` alone, else NotPrepared.
    ``cancel``: a CancelToken checked before each piece is made (a superseded preparation stops)."""
    def step(key, make):
        v = memo.get(key)
        if v is _MISS:
            if cached_only:
                raise NotPrepared(key[0])
            if cancel is not None and cancel.cancelled:
                from ..core.errors import Cancelled

                raise Cancelled("A newer playback preparation superseded this one.")
            v = make()
            memo.put(key, v)
        return v

    def device_copy(x):
        def make():
            y = x
            if sr_in != rate:
                from ..core.audio.io import resample

                y = resample(np.asarray(x, dtype=np.float32), sr_in, rate)
            return _fit_channels(y, channels)

        return step(("device", x, sr_in, rate, channels), make)

    bufs = [device_copy(x) for x in srcs]
    gain = step(("gain", bufs[0], bufs[1]), lambda: loudness_gain(bufs[0], bufs[1])) if len(bufs) > 1 else 1.0
    if len(bufs) > 1 and match and abs(gain - 1.0) > 1e-3:
        g, b0 = np.float32(gain), bufs[1]
        bufs[1] = step(("matched", b0, float(g)), lambda: np.clip(b0 * g, -1.0, 1.0).astype(np.float32))
    n = min(x.shape[0] for x in bufs)
    return Prepared(tuple(np.ascontiguousarray(x[:n]) for x in bufs), int(rate), float(gain))


class Player:
    A, B = 0, 1

    def __init__(self, io=None):
        self.available = False
        self.reason = "Playback has not been initialised."
        self._sd = None
        self._stream = None
        self.channels = 2
        self.device_name, self.device_rate = "", 48000  # the output's (use_device)
        self.rate = 0  # rate of the buffers and the stream
        self.source_rate = 0
        self.gain_b = 1.0
        self.match_loudness = False
        self.io = io  # a JobRunner that prepares the buffers (None: on the calling thread)
        self.lane = f"playback-{id(self)}"
        self.on_preparing = None  # fn(bool) on the UI thread: a preparation started / ended
        self.on_error = None  # fn(str): a start deferred to the new buffers failed
        self._raw = (None, None, None)  # the sources as given (A, B, R; for re-preparing)
        self._memo = _Memo()
        self._rates: dict = {}  # source rate -> stream rate (asked of the device once)
        self._token = 0  # the newest preparation asked for
        self._pending = False
        self._want: dict = {}  # select / seek asked for while preparing: applied to the new buffers
        self._start_when_ready = False
        self._loop_region = None  # seconds (kept across a change of rate)
        # state shared with the audio thread (single attribute writes, ints and tuples only)
        self._bufs: tuple = ()
        self._sel = 0
        self._pos = 0
        self._seek = -1
        self._lo = 0
        self._hi = 0
        self._looping = False
        self._playing = False
        self._finished = False

    # -- device ---------------------------------------------------------------------
    def probe(self) -> bool:
        """Find the output device here (importing sounddevice starts PortAudio: tenths of a
        second). The window does it in its I/O worker: ``probe_device`` then ``use_device``."""
        return self.use_device(probe_device())

    def use_device(self, dev: "AudioDevice") -> bool:
        """Take a probe's result (on the UI thread)."""
        self.reason = dev.reason
        if not dev.available:
            return False
        import sounddevice as sd  # imported by the probe already: a lookup

        self._sd = sd
        self.channels, self.device_name, self.device_rate = dev.channels, dev.name, dev.rate
        self._rates.clear()
        self.available = True
        if self._raw[0] is not None:
            self._request()  # the buffers again, for this device's rate and channels
        return True

    # -- sources (UI thread) -----------------------------------------------------------
    def set_sources(self, a: np.ndarray | None, b: np.ndarray | None, sample_rate: int,
                    removed: np.ndarray | None = None) -> None:
        """A and B of the same length and rate (B may be None), and optionally R (2), what the
        edit removed (A − B), heard as a third source. Keeps the position. New versions are
        prepared in ``io`` when it is set (``preparing`` until they are installed)."""
        self._raw = (a, b, removed if b is not None else None)
        self.source_rate = int(sample_rate)
        self._request()

    def set_match_loudness(self, on: bool) -> None:
        self.match_loudness = bool(on)
        self._request()

    @property
    def preparing(self) -> bool:
        return self._pending

    def _request(self):
        a, b, r = (tuple(self._raw) + (None, None))[:3]
        self._token += 1
        if self.io is not None:
            self.io.cancel(self.lane)  # an older preparation is not installed
        if a is None:
            self._set_pending(False)
            self._bufs = ()
            return
        srcs = (a,) + ((b,) if b is not None else ()) + ((r,) if r is not None else ())
        sr, token = self.source_rate, self._token
        # the stream's rate for this source rate: asked of the device once (stream_rate, in the
        # I/O worker: PortAudio may open the device), remembered here when the buffers come
        rate = sr if self._sd is None else self._rates.get(sr)
        ask = None if rate is not None else partial(stream_rate, self._sd, sr, self.channels, self.device_rate)
        memo, rest = self._memo, (self.channels, self.match_loudness)

        def work(cancel=None):  # worker side: the sources, plain values and the memo of prepared pieces
            return prepare(memo, srcs, sr, rate if rate is not None else ask(), *rest, cancel=cancel)

        if self.io is None:
            return self._take(token, sr, work())
        if rate is not None:
            try:
                return self._install(prepare(memo, srcs, sr, rate, *rest, cached_only=True))  # an A/B refresh
            except NotPrepared:
                pass
        self._set_pending(True)
        self.io.submit(self.lane, work, "prepare playback",
                       on_returned=lambda prep: self._take(token, sr, prep),
                       on_errored=lambda err: self._failed(token, err.message))

    def _take(self, token: int, sr: int, prep: "Prepared") -> None:
        """A preparation's buffers (UI thread): the stream rate it found for ``sr`` is remembered,
        and the newest preparation's buffers installed."""
        if token != self._token:
            return
        if self._sd is not None:
            self._rates[sr] = prep.rate
        self._install(prep)

    def _set_pending(self, on: bool) -> None:
        if on == self._pending:
            return
        self._pending = on
        if not on:
            self._want.clear()
            self._start_when_ready = False
        if self.on_preparing is not None:
            self.on_preparing(on)

    def _failed(self, token: int, message: str) -> None:
        if token != self._token:
            return
        self._playing = False
        self._set_pending(False)
        if self.on_error is not None:
            self.on_error(f"Playback could not be prepared ({message}).")

    def _install(self, prep: Prepared) -> None:
        """The new buffers (UI thread): the time position, the selection, the loop region and
        what was asked for while they were prepared carry over."""
        bufs, rate = prep.bufs, prep.rate
        self.gain_b = prep.gain_b
        if rate != self.rate and self.rate:
            self._seek = int(self.position * rate)  # keep the time position
        if rate != self.rate and self._stream is not None:
            self._close_stream()
        self.rate = rate
        sel = self._want.get("select", self._sel)
        self._sel = sel if sel < len(bufs) else 0
        self._bufs = bufs
        self._apply_loop()
        if "seek" in self._want:
            self.seek(self._want["seek"])
        start = self._start_when_ready and self._playing
        self._set_pending(False)
        if start:
            try:
                self._start()
            except Exception as exc:  # noqa: BLE001 - a device error must not end the session
                self._playing = False
                if self.on_error is not None:
                    self.on_error(f"The audio device could not be opened ({str(exc)[:200]}).")

    @property
    def frames(self) -> int:
        return self._bufs[0].shape[0] if self._bufs else 0

    @property
    def has_b(self) -> bool:
        return len(self._bufs) > 1

    # -- transport (UI thread) ---------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def selected(self) -> int:
        return self._sel

    @property
    def position(self) -> float:
        """Seconds (of the source) of the next sample to play."""
        if not self.rate:
            return 0.0
        s = self._seek
        return (s if s >= 0 else self._pos) / self.rate

    @property
    def has_removed(self) -> bool:
        return len(self._bufs) > 2

    def select(self, which: int) -> None:
        """Switch to A (0), B (1) or R (2, what was removed) at the current sample."""
        if self._pending:
            self._want["select"] = int(which)
        if 0 <= which < max(1, len(self._bufs)):
            self._sel = int(which)

    def toggle_ab(self) -> int:
        if len(self._bufs) > 1:
            self._sel = 1 - min(self._sel, 1)
            if self._pending:
                self._want["select"] = self._sel
        return self._sel

    def seek(self, seconds: float) -> None:
        if self._pending:
            self._want["seek"] = float(seconds)
        self._seek = max(0, min(int(seconds * self.rate), max(0, self.frames - 1)))
        self._finished = False

    def set_loop(self, region: tuple[float, float] | None) -> None:
        self._loop_region = None if region is None else (float(region[0]), float(region[1]))
        self._apply_loop()

    def _apply_loop(self) -> None:
        n, region = self.frames, self._loop_region
        if region is None:
            self._looping = False
            self._lo, self._hi = 0, n
            return
        lo = max(0, min(n - 1, int(region[0] * self.rate)))
        hi = max(lo + 1, min(n, int(region[1] * self.rate)))
        self._lo, self._hi = lo, hi
        self._looping = True

    @property
    def looping(self) -> bool:
        return self._looping

    def play(self) -> None:
        """Start playing (with new buffers being prepared: as soon as they are installed)."""
        if not self.available:
            raise RuntimeError(self.reason)
        if self._pending:
            self._playing, self._finished, self._start_when_ready = True, False, True
            return
        self._start()

    def _start(self) -> None:
        if not self._bufs:
            self._playing = False
            return
        if self._pos >= self._hi and self._seek < 0:
            self._seek = self._lo
        self._finished = False
        with PORTAUDIO:
            if self._stream is None:
                self._stream = self._sd.OutputStream(samplerate=self.rate, channels=self.channels, dtype="float32",
                                                     callback=self._callback)
            self._playing = True
            if not self._stream.active:
                self._stream.start()

    def pause(self) -> None:
        self._playing = False
        self._start_when_ready = False
        with PORTAUDIO:
            if self._stream is not None and self._stream.active:
                self._stream.abort()

    def toggle(self) -> bool:
        if self._playing:
            self.pause()
        else:
            self.play()
        return self._playing

    def poll(self) -> bool:
        """Called by a UI timer: stops the stream after the end was reached; True while playing."""
        if self._finished and self._stream is not None and self._stream.active:
            with PORTAUDIO:
                self._stream.abort()
        return self._playing

    def _close_stream(self):
        s, self._stream = self._stream, None
        if s is not None:
            try:
                with PORTAUDIO:
                    s.abort()
                    s.close()
            except Exception:
                pass

    def close(self) -> None:
        self._playing = False
        self._token += 1
        if self.io is not None:
            self.io.cancel(self.lane)
        self._set_pending(False)
        self._close_stream()

    # -- audio thread --------------------------------------------------------------------
    def _callback(self, outdata, frames, time_info, status):  # no Qt, no allocation
        bufs = self._bufs
        if not self._playing or not bufs:
            outdata.fill(0.0)
            return
        buf = bufs[self._sel] if self._sel < len(bufs) else bufs[0]
        seek = self._seek
        if seek >= 0:
            self._pos = seek
            self._seek = -1
        pos = self._pos
        looping = self._looping
        lo = self._lo if looping else 0
        hi = self._hi if looping else buf.shape[0]
        if looping and not lo <= pos < hi:
            pos = lo
        filled = 0
        while filled < frames:
            if pos >= hi:
                if looping:
                    pos = lo
                else:
                    outdata[filled:].fill(0.0)
                    self._playing = False
                    self._finished = True
                    pos = 0
                    break
            k = min(frames - filled, hi - pos)
            outdata[filled:filled + k] = buf[pos:pos + k]
            filled += k
            pos += k
        self._pos = pos


def stream_rate(sd, sr: int, channels: int, fallback: int) -> int:
    """The rate a stream plays sources at ``sr``: ``sr`` where the device takes it, else
    ``fallback`` (the device's default rate). Asks PortAudio (sounddevice's
    check_output_settings, which may open the device): the player runs it in its I/O worker."""
    try:
        with PORTAUDIO:
            sd.check_output_settings(samplerate=sr, channels=channels, dtype="float32")
        return int(sr)
    except Exception:  # noqa: BLE001 - PortAudioError or ValueError: the device does not take this rate
        return int(fallback)


@dataclass(frozen=True)
class AudioDevice:
    """What ``probe_device`` found: the output device, or why there is none."""
    available: bool
    reason: str
    name: str = ""
    channels: int = 2
    rate: int = 48000


def probe_device() -> AudioDevice:
    """Import sounddevice (it starts PortAudio, which lists the devices) and ask for the
    default output. Any thread: the window runs it once, at start, in its I/O worker."""
    try:
        with PORTAUDIO:
            import sounddevice as sd
    except OSError:
        return AudioDevice(False, "Playback is disabled: the PortAudio library is missing (install libportaudio2).")
    except ImportError:
        return AudioDevice(False, "Playback is disabled: the sounddevice package is not installed.")
    try:
        with PORTAUDIO:
            dev = sd.query_devices(kind="output")
    except Exception:  # PortAudioError or ValueError when there is no default output
        return AudioDevice(False, "Playback is disabled: no audio output device was found.")
    name = str(dev.get("name", "default"))
    return AudioDevice(True, f"Output: {name}", name, 2 if int(dev.get("max_output_channels", 0)) >= 2 else 1,
                       int(dev.get("default_samplerate") or 48000))
