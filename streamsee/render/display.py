"""Live frames in a desktop window (OpenCV HighGUI), and whether there is a desktop to show it on.

>>> if display_available():
...     with Window("streamsee") as window:
...         for frame in frames:
...             if not window.show(analyser.annotate(frame, analyser(frame))):
...                 break                     # q, Q or Esc pressed, or the window closed

Threads: OpenCV's HighGUI (and the GUI toolkit under it: Qt, GTK, Cocoa, Win32) must be used
from one thread only. Create the Window, call show() and close() all on the same thread, the
caller's main thread (the pipeline's consumer loop runs there; macOS insists on the main thread).
show() checks this and raises RuntimeError from any other thread.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from streamsee.core.frames import check_frame
from streamsee.core.resource import Resource

# Full key codes from cv2.waitKeyEx: cv2.waitKey keeps only the low byte, which makes the Left
# arrow (0xFF51 with Qt and GTK) read as "Q".
QUIT_KEYS = frozenset({ord("q"), ord("Q"), 27})  # 27: Esc
NO_DISPLAY = "no display to open a window on (DISPLAY is not set): use --no-display"


class DisplayError(RuntimeError):
    """No window can be shown here (no display, or OpenCV cannot reach it); the message is one line."""


def _libxcb() -> ctypes.CDLL:
    xcb = ctypes.CDLL("libxcb.so.1")
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    return xcb


def _connect_x(display: str, tries: int = 5) -> Callable[[], None] | None:
    """Connect to the X server at `display` through libxcb (which OpenCV's Qt backend uses too):
    a function that closes the connection, or None when no server answers (address or
    authorisation). Qt aborts the whole process when it cannot connect, so this is asked first.

    A bare X server (Xvfb with no other client) resets when its last client leaves and refuses
    connections for a moment while it does: hence the retries, and the caller keeps this
    connection open until Qt has connected. When libxcb cannot be loaded, OpenCV is left to try.
    """
    try:
        xcb = _libxcb()
    except OSError:
        return lambda: None
    for attempt in range(tries):
        if attempt:
            time.sleep(0.02)
        connection = xcb.xcb_connect(display.encode(), None)
        if connection and xcb.xcb_connection_has_error(connection) == 0:
            return lambda: xcb.xcb_disconnect(connection)
        if connection:
            xcb.xcb_disconnect(connection)  # frees a failed connection too
    return None


def _opencv_needs_x() -> bool:
    """True for OpenCV builds (opencv-python's Qt) whose only window backend is X11 (xcb)."""
    if getattr(cv2, "currentUIFramework", lambda: "")() != "QT":
        return False
    platforms = Path(cv2.__file__).parent / "qt" / "plugins" / "platforms"
    return platforms.is_dir() and not any("wayland" in plugin.name for plugin in platforms.iterdir())


def _display_problem() -> tuple[str | None, Callable[[], None]]:
    """Why no window can be shown here, in one line, or None when one can; and a function to
    call once OpenCV has connected (it closes the probe's connection to the X server)."""
    nothing = lambda: None  # noqa: E731
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None, nothing  # macOS and Windows always have a desktop
    display = os.environ.get("DISPLAY")
    if display:
        release = _connect_x(display)
        if release is not None:
            return None, release
        return f"cannot connect to the X display {display!r} (DISPLAY): use --no-display", nothing
    if os.environ.get("WAYLAND_DISPLAY"):
        if _opencv_needs_x():
            return ("OpenCV's windows need X11 (XWayland), but only Wayland is running (DISPLAY is not set): "
                    "use --no-display"), nothing
        return None, nothing
    return NO_DISPLAY, nothing


def display_available() -> bool:
    """Whether a window can be shown: on Linux an X display (DISPLAY, answering) or Wayland
    (WAYLAND_DISPLAY); always on macOS and Windows. Never raises."""
    try:
        problem, release = _display_problem()
        release()
        return problem is None
    except Exception:  # noqa: BLE001 - a yes/no question; an odd environment means no
        return False


class Window(Resource):
    """One OpenCV window showing BGR uint8 frames, aspect ratio kept, resizable.

    show(frame) returns False once the user has pressed q, Q or Esc in it or closed it, True
    otherwise. Use it from one thread only (see the module's docstring). Raises DisplayError
    when there is no display to open it on.

    Known upstream flaw: now and then the Qt 5 bundled with opencv-python never paints a new
    window (it misses the window's MapNotify and keeps it black; keys still work), more often
    on a busy CPU. Quitting and starting again gives a new window.
    """

    def __init__(self, title: str = "streamsee", max_size: tuple[int, int] | None = (1280, 720)):
        problem, release = _display_problem()
        if problem is not None:
            raise DisplayError(problem)
        self.title = title
        self.max_size = max_size  # the largest initial size (width, height); the user may resize
        self._thread = threading.get_ident()
        try:
            # GUI_NORMAL: no toolbar or status bar. Besides being plainer, that keeps the terminal
            # clean: opencv-python's Qt ships no fonts, and the toolbar's text makes it print
            # "QFontDatabase: Cannot find font directory ..." again and again while frames show.
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        except cv2.error as error:  # e.g. opencv-python-headless: no window support at all
            message = str(error).strip().splitlines()[-1] if str(error).strip() else "unknown error"
            raise DisplayError(f"OpenCV cannot open a window ({message}): use --no-display") from None
        finally:
            release()  # Qt holds its own connection now
        self._shown = False  # a frame has been shown (before that the window may not be mapped yet)
        self._size: tuple[int, int] | None = None  # the frame size the window was last fitted to
        self._open = True
        self._quit = False

    def _fit(self, width: int, height: int) -> None:
        """Size the window to a new frame size, scaled down to fit `max_size`."""
        scale = 1.0
        if self.max_size is not None:
            scale = min(1.0, self.max_size[0] / width, self.max_size[1] / height)
        cv2.resizeWindow(self.title, max(1, round(width * scale)), max(1, round(height * scale)))
        self._size = (width, height)

    def _visible(self) -> bool:
        """Whether the window is still on screen (the user has not closed it)."""
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:  # Qt: no window left at all
            return False

    def show(self, frame: np.ndarray) -> bool:
        """Show `frame` (BGR uint8, H x W x 3) and handle window events for 1 ms.

        False when the user pressed q, Q or Esc or closed the window (now or before; the frame is
        then not shown again), True otherwise.
        """
        if threading.get_ident() != self._thread:
            raise RuntimeError("Window.show() called from another thread than the one that created the "
                               "window: OpenCV's HighGUI must be used from one thread only")
        if not self._open or self._quit:
            return False
        check_frame(frame)
        if self._shown and not self._visible():
            self._quit = True  # closed by the user; imshow would open it again
            return False
        if self._size != (frame.shape[1], frame.shape[0]):
            self._fit(frame.shape[1], frame.shape[0])
        cv2.imshow(self.title, frame)
        self._shown = True
        key = cv2.waitKeyEx(1)  # handles the window's events; as cv2.waitKey(1) but the whole key code
        if key in QUIT_KEYS:
            self._quit = True
        elif not self._visible():
            self._quit = True  # closed while events were handled
        return not self._quit

    def close(self) -> None:
        """Destroy the window (safe to call twice; also after the user closed it)."""
        if not self._open:
            return
        self._open = False
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # let the toolkit handle the destruction, so the window disappears now
        except cv2.error:
            pass  # already gone


__all__ = ["DisplayError", "QUIT_KEYS", "Window", "display_available"]
