"""The height split of the editor window's right dock area: the Edit dock gets the height its
panel needs (no scroll bar, no spare room) and the History / Library tab group under it the
rest, at start-up and whenever the window's height changes (left alone, the dock layout
shares a change out among all the docks: spare room under the panel, or a scroll bar on it).

Where the window is too short for the panel over the History / Library group at its smallest
(1280×650), the panel takes compact spacing (EditPanel.set_compact), and the usual spacing
again once there is room for it (in a restored layout: as its Edit dock's height allows).
A split the user chose is theirs: once the Edit dock's height is no longer the one the app
last set (the user dragged the separator), a resize keeps the Edit dock's height and gives the
change to the dock under it; a window whose saved layout was restored is never refitted. The Edit
dock gets the width its panel needs (fit_width: at start, a restored layout's included, and at each
resize) as far as the central widget's minimum leaves room; it sets no minimum, so the window can
still be as narrow as its central widget and the docks at their smallest allow. A width the user
chose by dragging the dock's separator is theirs: later resizes keep it (Qt may clamp it in a window
too narrow for it; it comes back as the window widens again), and only the app's own layouts (a
first show, a restored layout, the panel's content growing) are widened to the panel's width;
so are Qt's own changes of the width (a hidden dock shown, the dock moved, the central widget's
minimum growing): only a drag of the separator with the mouse makes a width the user's.
In a dock narrower than the panel, the Instruction group keeps to the width in view (InViewWidth)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer


def edit_height(win) -> int:
    """The Edit dock's height that shows the whole panel and its Edit / Cancel footer."""
    dock = win.edit_dock
    chrome = dock.height() - dock.widget().height() if dock.isVisible() else 26  # title bar, margins
    return win.panel.sizeHint().height() + win.panel.footer.sizeHint().height() + max(chrome, 0) + 2


def lower_dock(win):
    """The History or Library dock (whichever tab shows) when it sits under the Edit dock."""
    e = win.edit_dock
    right = Qt.RightDockWidgetArea
    if e.isFloating() or win.dockWidgetArea(e) != right or win.tabifiedDockWidgets(e):
        return None
    for d in (win.history_dock, getattr(win, "library_dock", None)):
        if (d is not None and d.isVisible() and not d.isFloating() and win.dockWidgetArea(d) == right
                and d.geometry().top() >= e.geometry().bottom()):
            return d
    return None


def group_height(win, lower) -> int:
    """The History / Library tab group's height in the dock layout: the dock and its tab bar."""
    return win.centralWidget().geometry().bottom() - lower.geometry().top() + 1


def _set_edit(win, lower, height: int) -> None:
    """The Edit dock ``height`` tall, the dock under it the rest of their heights, applied now."""
    spare = win.edit_dock.height() - height
    if abs(spare) > 4:  # the sizes must add up to the area's height, else the layout shares out the difference
        win.resizeDocks([win.edit_dock, lower], [height, group_height(win, lower) + spare], Qt.Vertical)
        win.layout().activate()  # (resizeDocks alone applies at the next layout pass)


def panel_width(win) -> int:
    """The Edit dock's width that shows the panel without a horizontal scroll bar: the panel's
    minimum width, room for the vertical scroll bar a short window gives it, and the dock's frame."""
    from PySide6.QtWidgets import QScrollArea, QStyle

    dock = win.edit_dock
    scroll = next((s for s in dock.findChildren(QScrollArea) if s.widget() is win.panel), None)
    if scroll is None:
        return win.panel.minimumSizeHint().width()
    bar = scroll.style().pixelMetric(QStyle.PM_ScrollBarExtent, None, scroll)
    chrome = max(dock.width() - scroll.width(), 0) if dock.isVisible() else 0
    return win.panel.minimumSizeHint().width() + bar + 2 * scroll.frameWidth() + chrome


def fit_width(win) -> None:
    """Widen the Edit dock to the width its panel needs (panel_width), as far as the central
    widget can give up room above its minimum; a dock already that wide, or wider, stays as it is.
    A width the user chose (EditSplit.user_width: they dragged the dock's separator) is theirs
    instead: it is not widened to the panel's, only given back where a narrow window clamped it."""
    dock, central = win.edit_dock, win.centralWidget()
    if (central is None or dock.isFloating() or not dock.isVisible()
            or win.dockWidgetArea(dock) not in (Qt.LeftDockWidgetArea, Qt.RightDockWidgetArea)):
        return
    split = getattr(win, "edit_split", None)
    user = split.now_w if split is not None and split.user_width() else None
    spare = central.width() - central.minimumSizeHint().expandedTo(central.minimumSize()).width()
    width = min(user or panel_width(win), dock.width() + max(spare, 0))
    if width > dock.width():
        win.resizeDocks([dock], [width], Qt.Horizontal)
        win.layout().activate()  # (resizeDocks alone applies at the next layout pass)
    if split is not None:
        if user:
            split.now_w = user  # the user's width, not the one Qt clamped it to (or gave part of back)
        else:
            split.set_w = split.now_w = dock.width()  # the app's layout


def choose_spacing(win, lower) -> None:
    """The panel's usual spacing where the Edit dock can have the height that needs (the group
    under it kept at its smallest), else compact spacing."""
    group = group_height(win, lower)
    smallest = lower.minimumSizeHint().height() + group - lower.height()  # the dock and its tab bar
    room = win.edit_dock.height() + group - smallest
    win.panel.set_compact(False)
    if edit_height(win) > room:
        win.panel.set_compact(True)
    fit_width(win)


def keep_spacing(win) -> None:
    """A restored layout (never refitted): the panel's usual spacing where the Edit dock's
    actual height shows it all, else compact spacing."""
    win.panel.set_compact(False)
    if edit_height(win) > win.edit_dock.height():
        win.panel.set_compact(True)
    fit_width(win)


def fit(win) -> None:
    """Start-up: the Edit dock the height it needs, the History / Library docks the rest."""
    lower = lower_dock(win) or win.history_dock
    choose_spacing(win, lower)
    need = edit_height(win)
    total = win.edit_dock.height() + group_height(win, lower)
    win.resizeDocks([win.edit_dock, lower], [need, max(160, total - need)], Qt.Vertical)
    win.layout().activate()
    _remember(win)


def refit(win) -> None:
    """The same split, when the Edit dock sits over the History / Library docks."""
    lower = lower_dock(win)
    if lower is not None:
        choose_spacing(win, lower)
        _set_edit(win, lower, edit_height(win))
        _remember(win)
    else:
        fit_width(win)


def _remember(win) -> None:
    split = getattr(win, "edit_split", None)
    if split is not None:
        split.set_h = split.now_h = win.edit_dock.height()


class EditSplit(QObject):
    """Follows the Edit dock's height and width: the ones the app last set (``set_h``, ``set_w``)
    and the ones it had before the window's latest resize (``now_h``, ``now_w``: a drag of a
    separator changes them, a resize, or Qt clamping the dock in a narrow window, does not), so
    that a resize refits only a split, and widens only a dock, the user has not moved.

    ``now_w`` follows only a drag of the main window's own separators (a mouse button held on the
    window itself, not on one of its child widgets): Qt's own changes (showing a hidden dock in a
    narrower window, moving it to another area, the central widget's minimum growing) are not the
    user's width; moving or floating the dock forgets the user's width."""

    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.set_h: int | None = None
        self.now_h: int | None = None
        self.set_w: int | None = None
        self.now_w: int | None = None
        self._size = None  # the window's size as of its latest resize
        self.dragging = False  # a mouse button is held on the window's separators
        win.edit_dock.installEventFilter(self)
        win.installEventFilter(self)
        win.edit_dock.dockLocationChanged.connect(self.forget_width)
        win.edit_dock.topLevelChanged.connect(self.forget_width)

    def forget_width(self, *_) -> None:
        """The dock is somewhere else: the app fits its width again, once it has its place."""
        self.set_w = self.now_w = None
        QTimer.singleShot(0, self, lambda: fit_width(self.win))

    def eventFilter(self, obj, event):
        kind = event.type()
        if obj is self.win:
            if kind == QEvent.MouseButtonPress:  # (a press a child ignored reaches the window too)
                self.dragging = self.win.childAt(event.position().toPoint()) is None
            elif kind == QEvent.MouseButtonRelease:
                self.dragging = False
        elif kind == QEvent.Resize and self.win.size() == self._size:  # not part of a window resize
            self.now_h = event.size().height()
            if self.dragging and event.size().width() != event.oldSize().width():
                self.now_w = event.size().width()
        return False

    def user_split(self) -> bool:
        """Whether the Edit dock's height is no longer the one the app last set (±4 px)."""
        return self.set_h is not None and self.now_h is not None and abs(self.now_h - self.set_h) > 4

    def user_width(self) -> bool:
        """Whether the Edit dock's width is no longer the one the app last set (±4 px): the user's."""
        return self.set_w is not None and self.now_w is not None and abs(self.now_w - self.set_w) > 4

    def window_resized(self) -> None:
        """Called from the window's resizeEvent (the docks already have the layout's new sizes)."""
        win = self.win
        before, user = self.now_h, self.user_split()
        self._size = win.size()
        self.now_h = win.edit_dock.height()
        if getattr(win, "_restored", False):  # the saved layout stays as the user left it
            QTimer.singleShot(0, self, lambda: keep_spacing(win))  # the spacing follows its height
            return
        if user:
            QTimer.singleShot(0, self, lambda: self._keep(before))
        else:
            QTimer.singleShot(0, self, lambda: refit(win))  # once the docks have their new sizes

    def _keep(self, height: int) -> None:
        lower = lower_dock(self.win)
        if lower is not None:
            _set_edit(self.win, lower, height)
        fit_width(self.win)


class InViewWidth(QObject):
    """Keeps ``box`` (the Edit panel's Instruction group: the instruction, its ▾ and Find buttons)
    no wider than the panel's scroll area shows: where the Edit dock is narrower than the panel
    (a 1093 px window clamps it to ~300 px), the groups under it scroll sideways while the
    instruction row fits the view at scroll 0 (its line edit gives up the width)."""

    def __init__(self, scroll, box):
        super().__init__(box)
        self.scroll, self.box = scroll, box
        scroll.viewport().installEventFilter(self)

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Resize:
            m = self.scroll.widget().layout().contentsMargins()
            room = event.size().width() - m.left() - m.right()
            self.box.setMaximumWidth(max(self.box.minimumSizeHint().width(), room))
        return False
