"""Run presets: TOML files of flat keys that set the options of `streamsee INPUT`.

    >>> config = load_config("fast")                   # configs/fast.toml
    >>> config = load_config("runs/mine.toml")         # any path (it has a suffix or a slash)
    >>> config = config.replace(working_width=320, budget_ms=None)   # None: flag not given, preset stands

A preset sets only the keys it names; the rest keep the defaults below, which are the command
line's own. Every value is checked whenever a RunConfig is made, however it is made.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from streamsee.core import files

CONFIG_DIR = files.CONFIG_DIR
PRESETS = ("default", "fast", "accurate")

# Copies of live.analyser.MODES and recognition.proposals.PROPOSAL_METHODS, so that reading a config loads neither
# OpenCV, dlib nor a model; tests/test_config.py checks that they agree.
MODES = ("boxes", "segment", "compare")
PROPOSAL_METHODS = ("boundieboxies", "dlib")
RTSP_TRANSPORTS = ("tcp", "udp", "auto")  # a copy of video.capture.RTSP_TRANSPORTS (tests/test_network_sources.py)
RUNTIMES = ("auto", "int8", "float")  # a copy of recognition.variants.RUNTIMES (tests/test_config.py)


class ConfigError(ValueError):
    """A run configuration with an unknown key or a bad value, or a file that is not valid TOML."""


SERVE_FORMAT = ("[HOST:]PORT: a port from 0 (any free one) to 65535, after an IP address or host name if given "
                "(8080, 0.0.0.0:8080, [::1]:8080)")
HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def parse_serve(value: str) -> tuple[str, int]:
    """(host, port) of a browser view's address "[HOST:]PORT" (the host 127.0.0.1 when left out; an IPv6
    address in brackets); ValueError quoting the value when it is not one."""
    host, colon, port = (value.rpartition(":") if isinstance(value, str) else ("", "", ""))
    if host.startswith("[") and host.endswith("]") and ":" in host:  # brackets for IPv6 addresses, always
        host = host[1:-1]
    elif ":" in host or host.startswith("["):
        host = "!"
    elif not colon:
        host = "127.0.0.1"
    if not re.fullmatch(r"[0-9]{1,5}", port) or int(port) > 65535 or not _host(host):
        raise ValueError(f"serve must be {SERVE_FORMAT}, not {value!r}")
    return host, int(port)


def _host(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version in (4, 6)
    except ValueError:
        return bool(HOST_NAME.fullmatch(host))


def _serve(value) -> bool:
    try:
        return value is None or bool(parse_serve(value))
    except ValueError:
        return False


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    """An int or a float that a float can hold: not a bool, not NaN, not infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= sys.float_info.max


# key: (test, what is accepted). The message reads "KEY must be ACCEPTED, not VALUE".
WIDTH_RULE = (lambda v: _integer(v) and 64 <= v <= 1920 and v % 8 == 0, "a whole number from 64 to 1920, a multiple of 8")
RULES = {
    "mode": (lambda v: isinstance(v, str) and v in MODES, f"one of {', '.join(MODES)}"),
    "proposals": (lambda v: isinstance(v, str) and v in PROPOSAL_METHODS, f"one of {', '.join(PROPOSAL_METHODS)}"),
    "working_width": WIDTH_RULE,
    "objectness_width": (lambda v: v is None or WIDTH_RULE[0](v), WIDTH_RULE[1] + ", or left out for none"),
    "min_score": (lambda v: v is None or _number(v) and 0 < v < 1,
                  "a number between 0 and 1 (exclusive), or left out for the calibrated threshold"),
    "budget_ms": (lambda v: _number(v) and v > 0, "a number > 0"),
    "queue_size": (lambda v: _integer(v) and 1 <= v <= 64, "a whole number from 1 to 64"),
    "hud": (lambda v: isinstance(v, bool), "true or false"),
    "display": (lambda v: isinstance(v, bool), "true or false"),
    "realtime": (lambda v: isinstance(v, bool), "true or false"),
    "timeout_s": (lambda v: _number(v) and v > 0, "a number > 0"),
    "live": (lambda v: v is None or isinstance(v, bool), "true or false, or left out to guess from the source"),
    "rtsp_transport": (lambda v: isinstance(v, str) and v in RTSP_TRANSPORTS, f"one of {', '.join(RTSP_TRANSPORTS)}"),
    "reconnect_s": (lambda v: _number(v) and 0 <= v <= 86400, "a number of seconds from 0 (off) to 86400"),
    "smooth": (lambda v: _number(v) and 0 <= v < 1, "a number from 0 (off) up to but not including 1"),
    "serve": (_serve, f"{SERVE_FORMAT}, or left out for no browser view"),
    "serve_token": (lambda v: v is None or isinstance(v, str) and re.fullmatch(r"[!-~]{8,200}", v) is not None,
                    "8 to 200 printable ASCII characters without spaces, or left out (generated for a non-loopback host)"),
    "workers": (lambda v: v is None or _integer(v) and 1 <= v <= 64,
                "a whole number from 1 to 64, or left out for two"),
    "runtime": (lambda v: isinstance(v, str) and v in RUNTIMES, f"one of {', '.join(RUNTIMES)}"),
}
FLOATS = ("min_score", "budget_ms", "timeout_s", "reconnect_s", "smooth")  # ints are accepted for these and stored as floats


@dataclass(frozen=True)
class RunConfig:
    """The settings of one run; the defaults are the command line's."""

    mode: str = "segment"             # box path, FCN path, or both side by side
    proposals: str = "boundieboxies"  # region proposals for the box path
    working_width: int = 128          # FCN working width in pixels (recognition.fcn.WORKING_WIDTH)
    objectness_width: int | None = None  # the objectness FCN at this width (finds small pasted objects); None: off (segmenter)
    min_score: float | None = None    # box path: least class probability kept; None = calibrated
    budget_ms: float = 250.0          # live sources: results drawn within this of capture (live.governor lowers the cost)
    queue_size: int = 4               # frames waiting between the reader and the analyser
    hud: bool = True                  # statistics drawn on the annotated frames
    display: bool = True              # open a window when a display exists
    realtime: bool = False            # play a file at its own frame rate with the live policy
    timeout_s: float = 5.0            # network sources: time-out to open and to read
    live: bool | None = None          # live policy (analyse the newest frame, draw every one) or every frame analysed; None = guess
    rtsp_transport: str = "tcp"       # rtsp://: RTP over the RTSP connection (tcp), over udp, or auto (FFmpeg's choice)
    reconnect_s: float = 30.0         # live streams and cameras: seconds to keep reconnecting after a loss (0: off)
    smooth: float = 0.6               # video and live: share of the smoothed state a new frame keeps (0: off; live.smoothing)
    serve: str | None = None          # the browser view's [HOST:]PORT (live.web); None: none
    serve_token: str | None = None    # the browser view's token (required on every request); None: generated off loopback
    workers: int | None = None        # several sources: frames analysed at once (live.turns); None: two
    runtime: str = "auto"             # the models' exports: the fastest on this machine (timed once, cached), int8 or float

    def __post_init__(self):
        for key, (valid, accepted) in RULES.items():
            value = getattr(self, key)
            if not valid(value):
                raise ConfigError(f"{key} must be {accepted}, not {value!r}")
            if key in FLOATS and value is not None:
                object.__setattr__(self, key, float(value))

    def replace(self, **overrides) -> RunConfig:
        """A new, checked RunConfig with `overrides` applied; None values (flags not given) are skipped."""
        return dataclasses.replace(self, **{key: value for key, value in overrides.items() if value is not None})

    def to_dict(self) -> dict:
        """The settings as a dict (min_score None when calibrated), e.g. for the statistics JSON."""
        return dataclasses.asdict(self)


def preset_path(name_or_path: str | os.PathLike) -> Path:
    """CONFIG_DIR/NAME.toml for a bare name (no suffix, no slash); anything else, a Path object included, as is."""
    if isinstance(name_or_path, str) and not Path(name_or_path).suffix and not any(s in name_or_path for s in "/\\"):
        return CONFIG_DIR / f"{name_or_path}.toml"
    return Path(name_or_path)


def load_config(name_or_path: str | os.PathLike) -> RunConfig:
    """The RunConfig a preset name ("fast") or a TOML file sets; keys it leaves out keep their defaults."""
    path = preset_path(name_or_path)
    try:
        with open(path, "rb") as file:
            values = tomllib.load(file)
    except FileNotFoundError:
        presets = ", ".join(PRESETS)
        raise FileNotFoundError(f"no config {str(name_or_path)!r}: give a path or one of {presets}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"config {str(path)!r}: not valid TOML: {error}") from None
    unknown = [key for key in values if key not in RULES]
    if unknown:
        raise ConfigError(f"config {str(path)!r}: unknown key{'s' * (len(unknown) > 1)} "
                          f"{', '.join(map(repr, unknown))}; known keys: {', '.join(RULES)}")
    try:
        return RunConfig(**values)
    except ConfigError as error:
        raise ConfigError(f"config {str(path)!r}: {error}") from None
