"""Every kind of input a user has (issue 29): each video and image kind works through the real
command line or gets one line; portrait phone clips are turned upright; damaged packets mid-file
are skipped and counted; AAC audio into .webm is encoded again, never dropped silently; labels and
the HUD grow with the frame.

Every input is made here with Debian's ffmpeg, tiny (160x120 or 161x97, about a second); a kind
this ffmpeg cannot encode or PyAV cannot decode is skipped with the reason. `python
tests/test_input_kinds.py` runs every kind through the command line and prints the table of
docs/io.md."""

from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from test_io_robustness import decoded_frames, make, one_line, streamsee
from test_sources import ffmpeg

from streamsee.video.frame import Frame
from streamsee.video.sinks import VideoSink
from streamsee.video.sources import ImageFiles, VideoFile, read_image

TESTSRC = "testsrc=size={size}:rate=10:duration={seconds}"


@functools.cache
def encoders() -> str:
    return subprocess.run([ffmpeg(), "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=60).stdout


def has_encoder(name: str) -> bool:
    return f" {name} " in encoders()


@dataclass(frozen=True)
class Kind:
    """One kind of input: its file name, how ffmpeg makes it (the first encoder this ffmpeg has,
    with its arguments), the decoders PyAV may use for it, and its size."""

    name: str
    file: str
    encoders: dict[str, tuple[str, ...]]
    decoders: tuple[str, ...]
    size: tuple[int, int] = (160, 120)
    extra: tuple[str, ...] = ()  # arguments before the encoder (filters)

    def encoder(self) -> str | None:
        return next((name for name in self.encoders if has_encoder(name)), None)

    def missing(self) -> str | None:
        """Why this kind cannot be tried here, or None."""
        if self.encoder() is None:
            return f"this ffmpeg has none of the encoders {', '.join(self.encoders)} for {self.name}"
        if not any(name in av.codecs_available for name in self.decoders):
            return f"PyAV here has none of the decoders {', '.join(self.decoders)} for {self.name}"
        return None

    def build(self, folder: Path) -> Path:
        encoder = self.encoder()
        size = f"{self.size[0]}x{self.size[1]}"
        return make(folder / self.file, "-f", "lavfi", "-i", TESTSRC.format(size=size, seconds=1), *self.extra,
                    "-c:v", encoder, *self.encoders[encoder])


X264 = ("-g", "10")
VIDEO_KINDS = [
    Kind("variable frame rate (H.264, frames at 0, 0.3, 0.4, 0.6, 0.9 s)", "vfr.mp4",
         {"libx264": (*X264, "-pix_fmt", "yuv420p")}, ("h264",),
         extra=("-vf", r"select=not(mod(n\,3))+eq(n\,4)", "-fps_mode", "vfr")),
    Kind("odd size 161x97 (H.264 4:4:4)", "odd.mp4", {"libx264": (*X264, "-pix_fmt", "yuv444p")}, ("h264",),
         size=(161, 97)),
    Kind("odd size 161x97 (VP9 4:2:0)", "odd.webm",
         {"libvpx-vp9": ("-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p")}, ("vp9", "libvpx-vp9"),
         size=(161, 97)),
    Kind("10-bit H.264 (yuv420p10le)", "h264-10bit.mp4", {"libx264": (*X264, "-pix_fmt", "yuv420p10le")}, ("h264",)),
    Kind("HEVC (H.265)", "hevc.mp4", {"libx265": ("-pix_fmt", "yuv420p", "-x265-params", "log-level=error")},
         ("hevc",)),
    Kind("VP9 (.webm)", "vp9.webm", {"libvpx-vp9": ("-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p")},
         ("vp9", "libvpx-vp9")),
    Kind("AV1 (.mkv)", "av1.mkv", {"libaom-av1": ("-cpu-used", "8", "-usage", "realtime", "-pix_fmt", "yuv420p"),
                                   "libsvtav1": ("-pix_fmt", "yuv420p"), "librav1e": ("-pix_fmt", "yuv420p")},
         ("libdav1d", "av1", "libaom-av1")),
    Kind("animated GIF (as a video)", "animated.gif", {"gif": ()}, ("gif",)),
]
SLOW_CLI = {"h264-10bit.mp4", "hevc.mp4", "vp9.webm", "av1.mkv", "odd.webm"}  # what differs is the decoder,
# tried without the models in test_video_kind_decodes_every_frame

# Stills: name, file, ffmpeg arguments (after the encoder's image), what to expect of the read pixels.
STILL_KINDS = [
    ("16-bit PNG (rgb48)", "png16.png", ("-pix_fmt", "rgb48be")),
    ("16-bit grey PNG", "grey16.png", ("-pix_fmt", "gray16be")),
    ("grey PNG", "grey.png", ("-pix_fmt", "gray")),
    ("PNG with alpha (rgba)", "alpha.png", ("-pix_fmt", "rgba")),
    ("grey PNG with alpha (ya8)", "grey-alpha.png", ("-pix_fmt", "ya8")),
    ("TIFF", "plain.tif", ("-pix_fmt", "rgb24")),
    ("16-bit TIFF", "deep.tif", ("-pix_fmt", "rgb48le")),
    ("WebP", "photo.webp", ("-c:v", "libwebp")),
]


def build_still(folder: Path, file: str, args: tuple[str, ...]) -> Path:
    return make(folder / file, "-f", "lavfi", "-i", TESTSRC.format(size="160x120", seconds=1), "-frames:v", "1",
                *args)


def reference_still(folder: Path) -> np.ndarray:
    """The same picture as the stills, 8-bit BGR, as ffmpeg makes it."""
    return cv2.imread(str(build_still(folder, "reference.png", ("-pix_fmt", "rgb24"))))


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def output_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height


def run_kind(path: Path, folder: Path, output: str = "out.mp4", *extra):
    out, stats = folder / output, folder / f"{path.stem}-stats.json"
    result = streamsee(path, "--mode", "boxes", "--no-display", "--output", out, "--stats-json", stats, *extra)
    return result, out, stats


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("kinds")


def built(kind: Kind, folder: Path) -> Path:
    reason = kind.missing()
    if reason:
        pytest.skip(reason)
    path = folder / kind.file
    return path if path.exists() else kind.build(folder)


# ---------------------------------------------------------------- video kinds


@pytest.mark.parametrize("kind", VIDEO_KINDS, ids=lambda kind: kind.file)
def test_video_kind_decodes_every_frame(kind, clips):
    path = built(kind, clips)
    with VideoFile(path) as video:
        assert video.size == kind.size and video.rotation == 0
        frames = [item for item in video.frames() if isinstance(item, Frame)]
        assert video.error is None and video.damage == {"packets": 0, "frames_lost": 0}
    assert len(frames) == decoded_frames(path) >= 5
    assert all(frame.image.shape == (kind.size[1], kind.size[0], 3) and frame.image.dtype == np.uint8
               for frame in frames)
    times = [frame.timestamp for frame in frames]
    assert times == sorted(times) and len(set(times)) == len(times)
    if kind.file == "vfr.mp4":
        assert times == pytest.approx([0.0, 0.3, 0.4, 0.6, 0.9])


@pytest.mark.parametrize("kind", [pytest.param(kind, marks=pytest.mark.slow) if kind.file in SLOW_CLI else kind
                                  for kind in VIDEO_KINDS], ids=lambda kind: kind.file)
def test_video_kind_through_the_command_line(kind, clips, tmp_path):
    path = built(kind, clips)
    result, out, stats = run_kind(path, tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    count = decoded_frames(path)
    assert json.loads(stats.read_text())["frames"] == count
    assert decoded_frames(out) == count
    assert output_size(out) == (kind.size[0] // 2 * 2, kind.size[1] // 2 * 2)  # 4:2:0 output: even sides
    if kind.file == "vfr.mp4":  # the times kept, not evened out
        with av.open(str(out)) as container:
            assert [frame.time for frame in container.decode(video=0)] == pytest.approx([0.0, 0.3, 0.4, 0.6, 0.9])


def test_an_audio_only_file_is_one_line(tmp_path):
    sound = make(tmp_path / "sound.m4a", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac")
    one_line(streamsee(sound, "--mode", "boxes", "--no-display"), "no video stream", "sound.m4a")


# ---------------------------------------------------------------- still kinds


@pytest.mark.parametrize("name, file, args", STILL_KINDS, ids=[kind[1] for kind in STILL_KINDS])
def test_still_kind_reads_as_the_same_picture(name, file, args, clips):
    if file.endswith(".webp") and not has_encoder("libwebp"):
        pytest.skip("this ffmpeg has no libwebp encoder")
    path = build_still(clips, file, args)
    reference = reference_still(clips)
    image = read_image(path)
    assert image.shape == (120, 160, 3) and image.dtype == np.uint8, name
    if "grey" in name:
        assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
        reference = cv2.cvtColor(cv2.cvtColor(reference, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    limit = 12 if file.endswith(".webp") else 3  # lossy WebP; grey made by ffmpeg's own weights
    assert mean_difference(image, reference) < limit, name


def test_a_folder_of_every_still_kind_through_the_command_line(clips, tmp_path):
    folder = tmp_path / "stills"
    folder.mkdir()
    kinds = [(file, args) for _, file, args in STILL_KINDS if not file.endswith(".webp") or has_encoder("libwebp")]
    for file, args in kinds:
        build_still(folder, file, args)
    out, stats = tmp_path / "annotated", tmp_path / "stats.json"
    result = streamsee(folder, "--mode", "boxes", "--no-display", "--output", out, "--stats-json", stats)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    figures = json.loads(stats.read_text())
    assert figures["frames"] == len(kinds) and figures["unreadable"] == []
    for file, _ in kinds:
        written = cv2.imread(str(out / file))
        assert written is not None and written.shape == (120, 160, 3), file


def exif_oriented_jpeg(path: Path, image: np.ndarray, orientation: int) -> Path:
    """A JPEG of `image` with an EXIF orientation tag, as a phone writes a portrait photo."""
    encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    ifd = (b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01"
           + orientation.to_bytes(2, "big") + b"\x00\x00" + b"\x00\x00\x00\x00")
    segment = b"Exif\x00\x00" + ifd
    path.write_bytes(encoded[:2] + b"\xff\xe1" + (len(segment) + 2).to_bytes(2, "big") + segment + encoded[2:])
    return path


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation(tmp_path):
    image = np.zeros((120, 160, 3), np.uint8)
    image[:40, :40] = 255  # a white corner, top left as stored
    photo = exif_oriented_jpeg(tmp_path / "portrait.jpg", image, 6)  # 6: turn 90 degrees clockwise to show
    read = read_image(photo)
    assert read.shape == (160, 120, 3)
    assert read[:40, -40:].mean() > 200 and read[:40, :40].mean() < 50  # the corner is now top right
    with ImageFiles(photo) as images:
        assert images.size == (120, 160)


# ---------------------------------------------------------------- portrait clips


def rotated(source: Path, target: Path, degrees: int) -> Path:
    """`source` with a display matrix turning it by `degrees`, as a phone writes a portrait clip: the
    `-display_rotation` input option of newer ffmpeg, or the `rotate` tag older ones (5.x) take."""
    try:
        return make(target, "-display_rotation", str(degrees), "-i", str(source), "-c", "copy")
    except AssertionError as error:
        if "display_rotation" not in str(error):
            raise
    return make(target, "-i", str(source), "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}")


@pytest.fixture(scope="module")
def landscape(clips) -> Path:
    return make(clips / "landscape.mp4", "-f", "lavfi", "-i", TESTSRC.format(size="160x120", seconds=1),
                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10")


def ffmpeg_upright(path: Path, width: int, height: int) -> list[np.ndarray]:
    raw = subprocess.run([ffmpeg(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
                         capture_output=True, timeout=60, check=True).stdout
    return list(np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3))


@pytest.mark.parametrize("degrees", [90, 270])
def test_a_portrait_clip_is_read_upright_as_ffmpeg_shows_it(landscape, tmp_path, degrees):
    portrait = rotated(landscape, tmp_path / f"portrait-{degrees}.mp4", degrees)
    with VideoFile(portrait) as video:
        assert video.size == (120, 160) and video.rotation in (90, 270)
        assert "upright" in video.description
        frames = [item.image for item in video.frames() if isinstance(item, Frame)]
    shown = ffmpeg_upright(portrait, 120, 160)  # players turn it; Debian's ffmpeg does too
    assert len(frames) == len(shown) == 10
    for ours, theirs in zip(frames, shown):
        assert ours.shape == (160, 120, 3)
        assert mean_difference(ours, theirs) < 3 < mean_difference(ours, cv2.rotate(theirs, cv2.ROTATE_180))


def test_a_portrait_clip_is_analysed_and_written_upright(landscape, tmp_path):
    portrait = rotated(landscape, tmp_path / "portrait.mp4", 90)
    result, out, stats = run_kind(portrait, tmp_path, "out.mp4", "--no-hud")
    assert result.returncode == 0, result.stderr
    assert output_size(out) == (120, 160)  # width and height swapped: upright
    assert json.loads(stats.read_text())["frames"] == 10
    with av.open(str(out)) as container:
        written = next(container.decode(video=0))
        assert written.rotation == 0  # the pixels are upright, no matrix to turn them again
        written = written.to_ndarray(format="bgr24")
    shown = ffmpeg_upright(portrait, 120, 160)[0]
    assert mean_difference(written, shown) < mean_difference(written, cv2.rotate(shown, cv2.ROTATE_180)) / 2


# ---------------------------------------------------------------- damaged packets mid-file


def damaged(source: Path, target: Path) -> Path:
    """`source` with 2,000 bytes in its middle zeroed, as a bad disk sector or a broken download does."""
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 2000] = bytes(2000)
    target.write_bytes(bytes(data))
    return target


def damaged_clip_in(folder: Path, suffix: str) -> Path:
    """A 4 s, 40-frame H.264 clip (.mp4 or .ts) with 2,000 bytes zeroed in its middle."""
    whole = make(folder / f"whole.{suffix}", "-f", "lavfi", "-i", TESTSRC.format(size="160x120", seconds=4),
                 "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p")
    return damaged(whole, folder / f"damaged.{suffix}")


@pytest.fixture(scope="module", params=["mp4", "ts"])
def damaged_clip(request, clips) -> Path:
    return damaged_clip_in(clips, request.param)


def test_damaged_packets_are_skipped_and_counted(damaged_clip):
    with VideoFile(damaged_clip) as video:
        frames = [item for item in video.frames() if isinstance(item, Frame)]
        assert video.error is None
        assert video.damage["packets"] >= 1
        # every packet a picture or counted; in MPEG-TS the demuxer may fold a packet whose header the
        # damage hit into the one before, and that one is not seen
        assert 40 - (damaged_clip.suffix == ".ts") <= len(frames) + video.damage["frames_lost"] <= 40
    assert frames[-1].timestamp - frames[0].timestamp == pytest.approx(3.9)  # on to the last frame


def test_a_damaged_file_runs_to_its_end_with_the_damage_in_the_statistics(tmp_path):
    damaged_clip = damaged_clip_in(tmp_path, "mp4")  # it stopped at the damage before (rc 2)
    result, out, stats = run_kind(damaged_clip, tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    figures = json.loads(stats.read_text())
    assert figures["ended"] == "end of input"
    assert figures["damaged"]["packets"] >= 1 and figures["frames"] + figures["damaged"]["frames_lost"] == 40
    assert decoded_frames(out) == figures["frames"]
    warnings = [line for line in result.stderr.splitlines() if "damaged" in line]
    assert len(warnings) == 1 and "damaged.mp4" in warnings[0], result.stderr


# ---------------------------------------------------------------- audio a container cannot hold


@pytest.fixture(scope="module")
def with_aac(clips) -> Path:
    return make(clips / "with-aac.mp4", "-f", "lavfi", "-i", TESTSRC.format(size="160x120", seconds=1), "-f", "lavfi",
                "-i", "sine=frequency=440:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
                "-shortest")


def audio_seconds(path: Path) -> tuple[str, float]:
    """The codec of the first audio stream and the seconds of sound it decodes to."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return stream.codec_context.name, samples / stream.rate


def test_aac_into_webm_is_encoded_again(with_aac, tmp_path):
    result, out, _ = run_kind(with_aac, tmp_path, "out.webm")
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    codec, seconds = audio_seconds(out)
    assert codec in ("opus", "libopus", "vorbis", "libvorbis") and seconds == pytest.approx(1.0, abs=0.1)
    assert decoded_frames(out) == 10


def copy_through(source: Path, out: Path, warn=None) -> None:
    """The frames and audio of `source` through a VideoSink into `out`, as the main job does."""
    with VideoFile(source) as video, VideoSink(out, video.rate, video.size, video.time_base, video.audio,
                                               warn=warn) as sink:
        for item in video.frames():
            if isinstance(item, Frame):
                sink.write(item.image, item.timestamp)
            else:
                sink.write_audio(item)


def test_g711_into_mp4_is_encoded_as_aac(tmp_path):
    """An IP camera's G.711 (mu-law) audio, which .mov holds and .mp4 does not."""
    source = make(tmp_path / "camera.mov", "-f", "lavfi", "-i", TESTSRC.format(size="160x120", seconds=1), "-f",
                  "lavfi", "-i", "sine=duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "pcm_mulaw",
                  "-ar", "8000", "-shortest")
    copy_through(source, tmp_path / "out.mp4")
    codec, seconds = audio_seconds(tmp_path / "out.mp4")
    assert codec == "aac" and seconds == pytest.approx(1.0, abs=0.1)


def test_audio_that_cannot_be_encoded_is_reported_in_one_line(with_aac, tmp_path, monkeypatch):
    from streamsee.video import sinks

    monkeypatch.setitem(sinks.AUDIO_CODECS, ".webm", ("no-such-encoder",))
    heard = []
    copy_through(with_aac, tmp_path / "out.webm", warn=heard.append)
    assert len(heard) == 1 and "aac" in heard[0] and "out.webm" in heard[0] and "left out" in heard[0]
    with av.open(str(tmp_path / "out.webm")) as container:
        assert not container.streams.audio and sum(1 for _ in container.decode(video=0)) == 10


# ---------------------------------------------------------------- the table of docs/io.md


def table(folder: Path) -> str:
    """Each kind through the command line: works, or the one line it got (for docs/io.md)."""
    rows = ["| input | made with | result |", "|---|---|---|"]

    def row(name: str, made: str, result, out: Path | None) -> None:
        if result.returncode == 0:
            what = "works"
            if out is not None and out.suffix in (".mp4", ".webm"):
                what += f": {decoded_frames(out)} frames written"
            elif out is not None:
                image = cv2.imread(str(out))
                what += f": written, {image.shape[1]}x{image.shape[0]}" if image is not None else ": UNREADABLE OUTPUT"
        else:
            what = f"one line (rc {result.returncode}): `{result.stderr.strip().splitlines()[-1]}`"
        rows.append(f"| {name} | {made} | {what} |")

    for kind in VIDEO_KINDS:
        if kind.missing():
            rows.append(f"| {kind.name} | - | not tried: {kind.missing()} |")
            continue
        path = kind.build(folder)
        result, out, _ = run_kind(path, folder, f"{path.stem}-out.mp4")
        row(kind.name, f"`{kind.encoder()}`", result, out)
    landscape_clip = make(folder / "landscape.mp4", "-f", "lavfi", "-i", TESTSRC.format(size="160x120", seconds=1),
                          "-c:v", "libx264", "-pix_fmt", "yuv420p")
    portrait = rotated(landscape_clip, folder / "portrait.mp4", 90)
    result, out, _ = run_kind(portrait, folder, "portrait-out.mp4")
    row("portrait phone clip (160x120 with a 90 degree display matrix)", "`libx264`, `-c copy`", result, out)
    if result.returncode == 0:
        rows[-1] = rows[-1][:-2] + f", {'x'.join(map(str, output_size(out)))} |"
    for suffix in ("mp4", "ts"):
        clip = damaged_clip_in(folder, suffix)
        result, out, stats = run_kind(clip, folder, f"damaged-{suffix}-out.mp4")
        row(f"damaged .{suffix} (2,000 bytes zeroed mid-file, 40 frames)", "`libx264`", result, out)
        if result.returncode == 0:
            rows[-1] = rows[-1][:-2] + f", damaged {json.loads(stats.read_text()).get('damaged', 'not counted')} |"
    sound = make(folder / "with-aac.mp4", "-f", "lavfi", "-i", TESTSRC.format(size="160x120", seconds=1), "-f",
                 "lavfi", "-i", "sine=duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest")
    result, out, _ = run_kind(sound, folder, "aac-out.webm")
    row("H.264 + AAC audio, `--output out.webm`", "`libx264`, `aac`", result, out)
    if result.returncode == 0:
        with av.open(str(out)) as container:
            has_audio = bool(container.streams.audio)
        audio = "audio {} {:.2f} s".format(*audio_seconds(out)) if has_audio else "NO AUDIO"
        rows[-1] = rows[-1][:-2] + f", {audio} |"
    audio_only = make(folder / "sound.m4a", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac")
    row("audio only (.m4a)", "`aac`", streamsee(audio_only, "--mode", "boxes", "--no-display"), None)
    for name, file, args in STILL_KINDS:
        path = build_still(folder, file, args)
        result = streamsee(path, "--mode", "boxes", "--no-display", "--output", folder / f"out-{file}")
        row(f"{name} (image)", f"`{' '.join(args)}`", result, folder / f"out-{file}")
    photo = exif_oriented_jpeg(folder / "portrait.jpg", np.zeros((120, 160, 3), np.uint8), 6)
    result = streamsee(photo, "--mode", "boxes", "--no-display", "--output", folder / "out-portrait.jpg")
    row("JPEG with EXIF orientation 6 (phone portrait, 160x120 stored)", "OpenCV + an EXIF segment", result,
        folder / "out-portrait.jpg")
    return "\n".join(rows)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        print(table(Path(scratch)))
