"""The outputs of the main job: the annotated video or images, JSON lines and masks, opened (and so
checked) before any frame is read, and discarded again if one of them cannot be opened."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import cv2

from streamsee.core.resource import Resource
from streamsee.live.analyser import Analyser
from streamsee.video.sinks import (
    VIDEO_CODECS,
    JsonlSink,
    MaskSink,
    OutputError,
    VideoSink,
    check_writable,
    partial_path,
    replace,
)
from streamsee.video.sources import IMAGE_SUFFIXES, ImageFiles


class ImageSink(Resource):
    """Annotated stills: one file for one image, or a folder keeping the input's file names (for a
    folder input, or an output that is an existing folder). Each image is written under a temporary
    name and renamed into place, so a failed write leaves what was there.

    The output is checked when the sink is made, before any work: one image is written to an image
    type (.jpg, .png, ...), so a video type, another suffix or none is a ValueError, and so is an
    output that would overwrite an input.
    """

    def __init__(self, path: os.PathLike | str, inputs: list[Path], folder: bool):
        path = Path(path)
        suffix = path.suffix.lower()
        self.folder = folder or path.is_dir()
        if not path.is_dir() and suffix in VIDEO_CODECS:
            written_as = "to a folder of images" if folder else f"to an image ({', '.join(IMAGE_SUFFIXES)})"
            raise ValueError(f"output {str(path)!r}: {'a folder of images' if folder else 'one image'} is written "
                             f"{written_as}, not to a {suffix} video")
        if not self.folder and suffix not in IMAGE_SUFFIXES:
            raise ValueError(f"output {str(path)!r}: one image is written to an image; name one of "
                             f"{', '.join(IMAGE_SUFFIXES)}, or an existing folder")
        targets = [path / source.name for source in inputs] if self.folder else [path]
        if any(target.resolve() == source.resolve() for target, source in zip(targets, inputs)):
            raise ValueError(f"output {str(path)!r} would overwrite the input images: choose another")
        self.path = check_writable(path, folder=self.folder)
        self.targets = targets
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def discard(self) -> None:
        """Nothing to undo: an image is only written once it has been processed."""
        self.closed = True

    def write(self, image, index: int) -> None:
        target = self.targets[index] if self.folder else self.path
        partial = partial_path(target)
        try:
            written = cv2.imwrite(str(partial), image)
        except cv2.error:
            written = False
        if not written:
            partial.unlink(missing_ok=True)
            raise OutputError(f"cannot write output {str(target)!r}")
        replace(partial, target)



def open_outputs(stack: ExitStack, source, analyser: Analyser, output, jsonl, masks) -> list:
    """The JSONL, mask and video or image sinks asked for (None where not), entered into `stack`.
    If one cannot be opened, those already opened are discarded: nothing the user had is touched."""
    opened: list = []

    def enter(sink):
        opened.append(stack.enter_context(sink))
        return sink

    try:
        rows = enter(JsonlSink(jsonl)) if jsonl else None
        mask_sink = enter(MaskSink(masks)) if masks else None
        video = images = None
        if output is not None:
            if isinstance(source, ImageFiles) or isinstance(getattr(source, "source", None), ImageFiles):
                stills = source if isinstance(source, ImageFiles) else source.source
                images = enter(ImageSink(output, stills.paths, stills.from_folder))
            else:
                if Path(output).suffix.lower() not in VIDEO_CODECS:
                    raise ValueError(f"output {str(output)!r}: a video needs one of {', '.join(VIDEO_CODECS)}")
                width, height = source.size
                width *= 2 if analyser.mode == "compare" else 1
                video = enter(VideoSink(output, source.rate, (width, height), source.time_base, source.audio))
    except BaseException:
        for sink in opened:
            sink.discard()
        raise
    return [rows, mask_sink, video, images]
