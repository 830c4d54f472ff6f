"""The main job's command line (`streamsee [INPUT...] [options]`): its flags, each None unless given, so that
a --config preset stands where a flag is left out (cli.run_input applies them)."""

from __future__ import annotations

import argparse


def build_run_parser(version: str, subcommands: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """The main job. Options left out come from --config (a TOML preset), else the built-in defaults."""
    from streamsee.core.config import RUNTIMES
    from streamsee.live.analyser import MODES
    from streamsee.recognition.proposals import PROPOSAL_METHODS

    parser = argparse.ArgumentParser(
        prog="streamsee", description="Recognise the ten CIFAR-10 classes in live video, video files and images. "
        "With no INPUT and no --camera it plays the bundled sample video. "
        f"Other commands: {', '.join(subcommands)} (streamsee COMMAND -h).")
    parser.add_argument("--version", action="version", version=f"streamsee {version}")
    parser.add_argument("inputs", metavar="INPUT", nargs="*", default=[],
                        help="a video file, an image, a folder of images (file-name order), or a stream URL "
                        "(rtsp://, udp://, tcp://, http(s)://, rtmp://, srt://); several run together (docs/several.md)")
    parser.add_argument("--camera", metavar="N", action="append", default=[],
                        help="a camera: index (0, 1, ...) or device path; repeat for several")
    parser.add_argument("--config", metavar="NAME", default=None,
                        help="a TOML preset: default, fast, accurate (bundled presets) or a path; flags override it")
    parser.add_argument("--mode", choices=MODES, default=None, help="box path, FCN path, or both side by side "
                        "(default segment)")
    parser.add_argument("--proposals", choices=PROPOSAL_METHODS, default=None,
                        help="region proposals for the box path (default boundieboxies)")
    parser.add_argument("--output", help="annotated video (.mp4, .mkv, .mov, .webm), image, or folder for a folder input; "
                        "with several inputs a folder: OUTPUT/NAME.mp4 for each")
    parser.add_argument("--jsonl", help="one JSON object per frame and path (several inputs: a folder, JSONL/NAME.jsonl)")
    parser.add_argument("--save-masks", metavar="DIR", help="DIR/NNNNNN.png: class id per pixel, 255 = none "
                        "(several inputs: DIR/NAME/NNNNNN.png)")
    parser.add_argument("--working-width", type=int, default=None, help="FCN working width in pixels (default: configs/default.toml)")
    parser.add_argument("--objectness-width", type=int, default=None,
                        help="turn on the objectness FCN at this working width (off by default: it finds small "
                        "objects, but on real footage claims more where none of the ten is, at twice the FCN path's cost)")
    parser.add_argument("--min-score", type=float, default=None,
                        help="box path: least class probability kept (default: the calibrated threshold)")
    parser.add_argument("--smooth", type=float, default=None, metavar="KEEP",
                        help="video and live sources: blend each result with the earlier frames', keeping this share "
                        "of the running state (default 0.6; 0: off, each frame on its own). Images are never smoothed")
    parser.add_argument("--realtime", action="store_const", const=True, default=None,
                        help="play a file at its own frame rate with the live policy (every frame drawn, the newest analysed)")
    parser.add_argument("--budget-ms", type=float, default=None,
                        help="live sources: results drawn within this of capture, or the analysis cost is lowered (default 250)")
    parser.add_argument("--queue-size", type=int, default=None, help="frames waiting between threads (default 4)")
    parser.add_argument("--timeout", type=float, default=None, dest="timeout_s",
                        help="network streams: seconds to wait for the stream to open or deliver (default 5)")
    parser.add_argument("--live", action=argparse.BooleanOptionalAction, default=None,
                        help="--live: every frame drawn with the newest result, the newest analysed (a file played at its own rate); "
                        "--no-live: every frame analysed, in order. Default: guessed (cameras and rtsp, udp, ... streams are "
                        "live; files, and http(s) URLs of files, are not)")
    parser.add_argument("--rtsp-transport", choices=("tcp", "udp", "auto"), default=None,
                        help="rtsp:// streams: RTP inside the RTSP connection (tcp, the default), over udp, or auto "
                        "(FFmpeg tries UDP, then TCP)")
    parser.add_argument("--reconnect", type=float, default=None, metavar="SECONDS", dest="reconnect_s",
                        help="a live stream or camera lost mid-run is reconnected (a try at once, then after waits of "
                        "0.5, 1, 2, 4 and then 5 s) for up to SECONDS after its last frame, into the same outputs "
                        "(default 30; 0: off, the run ends)")
    parser.add_argument("--no-hud", action="store_const", const=False, default=None, dest="hud",
                        help="leave the statistics off the annotated frames")
    parser.add_argument("--no-display", action="store_const", const=False, default=None, dest="display",
                        help="no window, even when a display is available")
    parser.add_argument("--stats-json", metavar="PATH", help="write the run's statistics as JSON")
    parser.add_argument("--runtime", choices=RUNTIMES, default=None,
                        help="the models' exports: auto (the default) times int8 and float on this CPU once and keeps "
                        "the faster (cached); int8 or float forces one")
    parser.add_argument("--workers", type=int, default=None, help="several inputs: frames analysed at once, the "
                        "inputs taking turns (default 2)")
    parser.add_argument("--serve", metavar="[HOST:]PORT", default=None, help="a browser view (the video, statistics, "
                        "classes seen, timeline) on PORT of 127.0.0.1, or of HOST (0.0.0.0: every interface); docs/web.md")
    parser.add_argument("--serve-token", metavar="TOKEN", default=None, help="asked on every request to the browser "
                        "view (default: none on loopback, else one made for the run, printed once in its URL)")
    return parser
