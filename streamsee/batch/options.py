"""The `streamsee batch` command line (argparse only: importing it loads neither Ray nor a model)."""

from __future__ import annotations

from streamsee.core.config import MODES


def add_batch_parser(commands) -> None:
    """`streamsee batch`: many inputs through the main job on a Ray cluster (the cluster extra)."""
    batch = commands.add_parser("batch", help="many videos and images through the main job, on a Ray cluster",
                                description="Run every input through the main job on Ray workers: an annotated "
                                "video or image, JSON lines and (segment, compare) masks per input under --out, "
                                "mirroring the input tree. A rerun skips inputs whose outputs are complete. "
                                "Exit status 2 when an input failed (the rest are processed), 130 on Ctrl-C.")
    batch.add_argument("inputs", nargs="+", metavar="INPUT",
                       help="video files, images, folders (walked recursively for videos and images) or globs "
                       "(quote them: 'clips/**/*.mp4')")
    batch.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs")
    batch.add_argument("--mode", choices=MODES, default=None, help="box path, FCN path or both (default segment)")
    batch.add_argument("--config", metavar="NAME", default=None,
                       help="a TOML preset: default, fast, accurate or a path; --mode overrides it")
    batch.add_argument("--address", default=None, metavar="auto|ray://HOST:PORT",
                       help="the Ray cluster to join (auto: the one started on this machine with `ray start`); "
                       "default: start a local Ray instance on this machine")
    batch.add_argument("--workers", type=int, default=None, metavar="N",
                       help="workers (each loads the models once; default: one per CPU of the cluster)")
    batch.add_argument("--chunk-seconds", type=float, default=300.0, metavar="S", help="cut videos of 2*S or more "
                       "on keyframes into chunks of about S s, run at once and joined in order (default 300; 0: off)")
    batch.add_argument("--no-video", action="store_false", dest="video", help="no annotated video or image")
    batch.add_argument("--no-jsonl", action="store_false", dest="jsonl", help="no JSON lines")
    batch.add_argument("--no-masks", action="store_false", dest="masks", help="no class-id masks")
    batch.add_argument("--no-hud", action="store_const", const=False, default=None, dest="hud",
                       help="leave the statistics off the annotated frames")
    batch.add_argument("--json", metavar="PATH", default=None, help="write the summary as JSON")


__all__ = ["add_batch_parser"]
