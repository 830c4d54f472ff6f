"""Long videos in chunks: one input cut on keyframes into time ranges that several workers process at
once, with the same code as a whole input, then joined back in order into the input's usual outputs.

1. `cut_times`: where to cut a video `duration` s long into chunks of about `seconds`: nowhere in one
   shorter than twice that; otherwise n - 1 evenly spaced times for n = floor(duration / seconds)
   chunks, each between `seconds` and 1.5 x `seconds` long.
2. `keyframe_cuts`: each of those times moved on to the first keyframe at or after it, found with a
   seek and by reading (demuxing, never decoding) the packets up to it: about one group of pictures.
3. `split`: the input's Job as chunk Jobs, each a time range from one cut to the next (`Job.start`,
   `Job.end`) with its outputs under temporary names beside the input's (`clip.partial-chunk001.mp4`,
   `clip.mp4.partial-chunk001.jsonl`, `clip.mp4.partial-chunk001.masks`) and no done-marker. A worker
   reads one as `VideoFile(input, start, end)`: from the keyframe at `start`, up to the frame before `end`.
4. `Assembly`: the chunks' outcomes as they come back; once every one is in, `finish` joins them in
   order into the input's outputs (`join`): the video by copying the chunks' packets into one file
   (no re-encoding; the chunks keep the input's own frame times, so the joined times run on) with the
   input's audio copied whole beside them, the JSON lines one after the other with the frame numbers
   counted on, the masks moved into one folder and numbered on. Each is written under a temporary
   name and renamed into place, then the done-marker is written, and the chunks' files are removed.

A chunk that fails fails its input with the chunk's one-line reason; the chunks before it, and what
the failed one processed, are joined (as a whole run keeps the frames before an error), the input gets
no done-marker, and its chunks not yet started are not started. The smoothing of results over time
starts afresh at every chunk, as at the start of an input.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import av

from streamsee.batch.inputs import Job, fingerprint, mark_done
from streamsee.batch.worker import Outcome, put_masks_in_place, remove_stale
from streamsee.video.sinks import AUDIO_CODECS, AudioTranscoder, check_writable, partial_path
from streamsee.video.sources import seek_before

DEFAULT_SECONDS = 300.0  # --chunk-seconds: videos of at least twice this are cut into chunks


def cut_times(first: Fraction, duration: Fraction, seconds: float) -> list[Fraction]:
    """Where to cut a video that starts at `first` s and lasts `duration` s into chunks of about
    `seconds` each (0: never): n - 1 evenly spaced times for n = floor(duration / seconds) chunks."""
    if seconds <= 0 or duration <= 0:
        return []
    count = math.floor(duration / Fraction(seconds))
    return [first + duration * index / count for index in range(1, count)]


def keyframe_at_or_after(container, stream, time: Fraction) -> Fraction | None:
    """The time of the first keyframe at or after `time` (None: there is none): a seek back to a
    keyframe before it, then packets read (not decoded) on from there."""
    base = stream.time_base
    seek_before(container, stream, time)
    for packet in container.demux(stream):
        if packet.is_keyframe and packet.pts is not None and packet.pts * base >= time:
            return packet.pts * base
    return None


def extent(container) -> tuple[Fraction, Fraction] | None:
    """(the time of the first frame, the duration) of the container's first video stream, in seconds,
    from its header; None where it does not say how long it is."""
    stream = container.streams.video[0]
    base = stream.time_base
    first = stream.start_time * base if stream.start_time is not None else Fraction(0)
    if stream.duration:
        return first, stream.duration * base
    if container.duration:
        return first, Fraction(container.duration, av.time_base)
    return None


def chunk_count(path: str, seconds: float) -> int:
    """How many chunks a video would be cut into, from its header alone (no seek): 1 for a short one or
    one that cannot be read."""
    try:
        with av.open(path) as container:
            found = extent(container)
    except (OSError, ValueError, IndexError, av.error.FFmpegError):
        return 1
    return 1 + len(cut_times(*found, seconds)) if found else 1


def keyframe_cuts(path: str, seconds: float) -> list[Fraction]:
    """The keyframe times to cut the video at (increasing, after its first frame): one near each of
    `cut_times`. None of them for a video too short, one whose duration its container does not say,
    or one that cannot be read or searched: it is then processed whole (and its problem reported so)."""
    try:
        with av.open(path) as container:
            found = extent(container)
            if found is None:
                return []
            first = found[0]
            stream = container.streams.video[0]
            cuts: list[Fraction] = []
            for wanted in cut_times(*found, seconds):
                keyframe = keyframe_at_or_after(container, stream, wanted)
                if keyframe is not None and keyframe > (cuts[-1] if cuts else first):
                    cuts.append(keyframe)
            return cuts
    except (OSError, ValueError, IndexError, av.error.FFmpegError):
        return []


def chunk_path(path: str | None, index: int) -> str | None:
    """Where chunk `index` writes an output of the input: a temporary name (`.partial-`, which folder
    walks leave out and reruns sweep away) beside it, with its suffix (which picks the format)."""
    if path is None:
        return None
    target = Path(path)
    return str(target.with_name(f"{target.stem}.partial-chunk{index:03d}{target.suffix}"))


def split(job: Job, cuts: list[Fraction]) -> list[Job]:
    """The chunk Jobs of `job` for the cuts: from the beginning to the first cut, from cut to cut, and
    from the last cut to the end."""
    bounds = [None, *cuts, None]
    count = len(cuts) + 1
    return [replace(job, name=f"{job.name} [chunk {index + 1}/{count}]", output=chunk_path(job.output, index),
                    jsonl=chunk_path(job.jsonl, index), masks=chunk_path(job.masks, index), done=None,
                    start=bounds[index], end=bounds[index + 1]) for index in range(count)]


def sweep(job: Job) -> None:
    """The temporary files earlier runs left for the job's outputs, chunks included."""
    for path in job.outputs():
        remove_stale(path)


def remove(path: str | None) -> None:
    if path is None:
        return
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        Path(path).unlink(missing_ok=True)


# --- joining -------------------------------------------------------------------------------------------

def real(packet) -> bool:
    """Not the demuxer's closing flush packet (no data, no time)."""
    return packet.size > 0 and (packet.dts is not None or packet.pts is not None)


def decoding_tick(packet) -> int:
    """When a packet is decoded, in its stream's ticks: its dts, or where the container keeps none
    (Matroska, at times) its pts."""
    return packet.dts if packet.dts is not None else packet.pts


def timed(packets: Iterator, base: Fraction) -> Iterator[tuple[float, object]]:
    """(seconds, packet) for the real packets of one stream of time base `base` (floats: to order them)."""
    scale = float(base)
    return ((decoding_tick(packet) * scale, packet) for packet in packets if real(packet))


def video_packets(parts: list, stream) -> Iterator[tuple[float, object]]:
    """(seconds, packet) for the chunks' video packets in order, set for `stream`. Each chunk keeps the
    input's frame times, so they follow on; should a chunk's first packet not come after the previous
    chunk's last (an encoder's delay), that chunk is moved on by the few ticks it takes. A packet whose
    container keeps no decoding time (the first ones of a Matroska chunk) gets one a tick after the
    previous packet's, as muxers want them increasing."""
    last: Fraction | None = None  # the previous chunk's last decoding time
    for container in parts:
        source = container.streams.video[0]
        base = source.time_base
        shift, previous = None, None  # ticks this chunk is moved on; the previous packet's dts in ticks
        for seconds, packet in timed(container.demux(source), base):
            if shift is None:
                behind = None if last is None else last - decoding_tick(packet) * base
                shift = math.floor(behind / base) + 1 if behind is not None and behind >= 0 else 0
                previous = None if last is None else math.floor(last / base)
            if shift:
                packet.dts = None if packet.dts is None else packet.dts + shift
                packet.pts = None if packet.pts is None else packet.pts + shift
                seconds += shift * float(base)
            if packet.dts is None and previous is not None:
                packet.dts = previous + 1
            previous = packet.dts if packet.dts is not None else previous
            packet.stream = stream
            yield seconds, packet
        if previous is not None:
            last = previous * base


def add_audio(container, template, suffix: str, warn: Callable[[str], None]):
    """(the stream the input's audio is copied into, None) or, where the container cannot hold it as it
    is, (None, an AudioTranscoder), as the single-machine tool's VideoSink does; (None, None) with one
    line to `warn` where neither works."""
    try:
        return container.add_stream_from_template(template), None
    except (ValueError, av.error.FFmpegError):
        pass
    try:
        return None, AudioTranscoder(container, template, AUDIO_CODECS[suffix])
    except (ValueError, KeyError) as error:
        warn(f"the audio ({template.codec_context.name}) is left out: a {suffix} file cannot hold it and it cannot "
             f"be encoded again ({error})")
        return None, None


def join_video(parts: list[str], original: str, output: str, whole: bool, warn: Callable[[str], None]) -> None:
    """The chunks' annotated videos, in order, into `output` without re-encoding, with the audio of the
    `original` input copied in beside them (all of it when `whole`, else up to the last video packet)."""
    target = check_writable(output)
    partial = partial_path(target)
    try:
        with ExitStack() as stack:
            chunks = [stack.enter_context(av.open(path)) for path in parts]
            source = stack.enter_context(av.open(original))
            out = stack.enter_context(av.open(str(partial), "w"))
            stream = out.add_stream_from_template(chunks[0].streams.video[0])
            audio = copied = transcoder = None
            if source.streams.audio:
                audio = source.streams.audio[0]
                copied, transcoder = add_audio(out, audio, target.suffix.lower(), warn)
            copying = copied is not None or transcoder is not None
            sound = timed(source.demux(audio), audio.time_base) if copying else iter(())

            def mux_audio(packet) -> None:
                if copied is not None:
                    packet.stream = copied
                    out.mux(packet)
                else:
                    out.mux(transcoder.encode(packet))

            waiting = next(sound, None)  # (seconds, packet): the audio goes in beside the video at its time
            for seconds, packet in video_packets(chunks, stream):
                while waiting is not None and waiting[0] <= seconds:
                    mux_audio(waiting[1])
                    waiting = next(sound, None)
                out.mux(packet)
            while whole and waiting is not None:
                mux_audio(waiting[1])
                waiting = next(sound, None)
            if transcoder is not None:
                out.mux(transcoder.flush())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)


def join_jsonl(parts: list[str], offsets: list[int], output: str) -> None:
    """The chunks' JSON lines one after the other, each chunk's frame numbers counted on by `offsets`."""
    target = check_writable(output)
    partial = partial_path(target)
    try:
        with open(partial, "w", encoding="utf-8") as joined:
            for path, offset in zip(parts, offsets):
                with open(path, encoding="utf-8") as rows:
                    for line in rows:
                        row = json.loads(line)
                        row["frame"] += offset
                        joined.write(json.dumps(row) + "\n")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)


def join_masks(parts: list[str], offsets: list[int], output: str) -> None:
    """The chunks' masks moved into one folder, each chunk's numbered on by `offsets`."""
    target = check_writable(output, folder=True)
    partial = partial_path(target)
    partial.mkdir(exist_ok=True)
    for folder, offset in zip(parts, offsets):
        for mask in sorted(Path(folder).glob("*.png")):
            os.replace(mask, partial / f"{int(mask.stem) + offset:06d}.png")
    put_masks_in_place(partial, target)


def join(job: Job, chunks: list[Job], frames: list[int], whole: bool, warn: Callable[[str], None]) -> None:
    """The chunks' outputs (with their frame counts) joined in order into the job's outputs. An output
    none of the chunks wrote is left as it was."""
    offsets = [sum(frames[:index]) for index in range(len(frames))]

    def written(output: str) -> tuple[list[str], list[int]]:
        """The chunks' files of one output that are there, and the number of each one's first frame."""
        pairs = [(getattr(chunk, output), offset) for chunk, offset in zip(chunks, offsets)]
        pairs = [(path, offset) for path, offset in pairs if path is not None and os.path.exists(path)]
        return [path for path, _ in pairs], [offset for _, offset in pairs]

    if job.output is not None and (videos := written("output")[0]):
        join_video(videos, job.input, job.output, whole, warn)
    if job.jsonl is not None and (rows := written("jsonl"))[0]:
        join_jsonl(*rows, job.jsonl)
    if job.masks is not None and (masks := written("masks"))[0]:
        join_masks(*masks, job.masks)


@dataclass
class Assembly:
    """A long video processed in chunks: its Job, its chunk Jobs, their outcomes as they come back, the
    input's fingerprint when it was cut, and when that was."""

    job: Job
    chunks: list[Job]
    before: dict
    started: float = field(default_factory=time.perf_counter)
    outcomes: dict[int, Outcome] = field(default_factory=dict)

    @classmethod
    def plan(cls, job: Job, seconds: float) -> Assembly | None:
        """The job cut into chunks of about `seconds`, or None where it is not (short, an image, chunks
        off, or a file that cannot be searched). Earlier runs' temporary files for it are swept away."""
        if job.kind != "video" or job.chunk or seconds <= 0:
            return None
        try:
            before = fingerprint(job.input)
        except OSError:
            return None
        cuts = keyframe_cuts(job.input, seconds)
        if not cuts:
            return None
        sweep(job)
        return cls(job, split(job, cuts), before)

    def add(self, chunk: Job, outcome: Outcome) -> None:
        self.outcomes[self.chunks.index(chunk)] = outcome

    @property
    def complete(self) -> bool:
        """Whether every chunk's outcome is in."""
        return len(self.outcomes) == len(self.chunks)

    def abandon(self) -> Outcome:
        """The input's outcome when the run stops before its chunks are all in: its chunks' files removed."""
        for chunk in self.chunks:
            for path in chunk.outputs():
                remove(path)
        frames = sum(outcome.frames for outcome in self.outcomes.values())
        return self.outcome("interrupted", "interrupted before it was finished", frames)

    def outcome(self, status: str, reason: str | None, frames: int, warnings: tuple[str, ...] = ()) -> Outcome:
        labels = dict.fromkeys(outcome.worker for outcome in self.outcomes.values() if outcome.worker)
        outputs = tuple(path for path in self.job.outputs() if os.path.exists(path)) if status != "interrupted" else ()
        every = tuple(dict.fromkeys(warning for outcome in self.outcomes.values() for warning in outcome.warnings))
        return Outcome(self.job.name, self.job.input, status, frames, time.perf_counter() - self.started, reason,
                       outputs, every + warnings, ", ".join(labels), len(self.chunks))

    def finish(self, settings: dict) -> Outcome:
        """Every chunk's outcome is in: join them (up to the first that did not finish), mark the input
        done where all did, remove the chunks' files; the input's Outcome."""
        ordered = [self.outcomes[index] for index in range(len(self.chunks))]
        first_bad = next((index for index, outcome in enumerate(ordered) if outcome.status != "done"), None)
        if first_bad is not None and ordered[first_bad].status != "failed":  # interrupted, or never started
            return self.abandon()
        kept = len(ordered) if first_bad is None else first_bad + 1
        frames = [outcome.frames for outcome in ordered[:kept]]
        warnings: list[str] = []
        status, reason = "done", None
        if first_bad is not None:
            status = "failed"
            reason = f"chunk {first_bad + 1} of {len(self.chunks)}: {ordered[first_bad].reason}"
        try:
            join(self.job, self.chunks[:kept], frames, first_bad is None, warnings.append)
            if first_bad is None:
                mark_done(self.job, settings, sum(frames), time.perf_counter() - self.started, self.before)
        except (OSError, ValueError, RuntimeError, av.error.FFmpegError) as error:
            status, reason = "failed", f"joining its chunks: {error}"
        finally:
            for chunk in self.chunks:
                for path in chunk.outputs():
                    remove(path)
        return self.outcome(status, reason, sum(frames), tuple(warnings))
