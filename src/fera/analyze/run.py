"""One source of `fera analyze`, analysed the way `fera assist` sees it, written as one part file.

The pieces are the assistant's own (``Assistant.create``: BlazeFace with its settings, the search with its
keypoint check and zoomed-out pass, the shipped classifier with its calibration temperature, the tracker): photos
get the assistant's photo search (whole, zoomed out and tiled), video frames its one pass (and the zoomed-out pass
when that finds nothing) and its tracker, which gives every person an id that is stable within the video.
Unlike the assistant, which classifies each frame's faces as the frame comes, the faces of many frames are
classified in one call, and a thread decodes the next frames meanwhile. The models are loaded once per
process (``engine``) and reused for every source, also on a cluster's workers.
"""
from __future__ import annotations

import os
import queue
import socket
import threading
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from fera.errors import FeraError, first_line
from fera.runtime.detect import DetectConfig


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # None: as fera assist, `fast` for videos and the most accurate shipped model for photos
    detector: str = DetectConfig.model  # BlazeFace full or short range
    int8: bool = False
    flip: bool = False
    every: int = 1  # analyse every Nth frame of a video
    batch_size: int = 64  # faces per classifier call
    # ONNX Runtime threads per model. 1: decoding, detection and classification run in threads of their own instead
    # (about 2-3 cores a process, no idle thread spinning on a busy machine; --workers uses more cores); None: as
    # fera assist (2 threads for the detector, up to 4 for the classifier)
    threads: int | None = 1
    # For tests only: (source path, frame index, "127.0.0.1:PORT"). An attempt at that source that reaches that
    # frame connects to the test's port, sends its process id and waits (at most hold_s) until the test closes the
    # connection; when nobody listens (the test took one attempt already) it goes on.
    hold: tuple | None = None
    hold_s: float = 120.0

    def model_ref(self, kind: str) -> str:
        from fera.runtime.settings import model_for

        return self.model or model_for(still=kind == "photo")

    def key(self, kind: str) -> dict:
        """What a finished part must have been made with for --resume to keep it."""
        from fera.analyze.table import VERSION

        name, path = model_file(self.model_ref(kind), self.int8)
        return {"version": VERSION, "model": name, "model_sha256": sha256_of(str(path)), "detector": self.detector,
                "int8": self.int8, "flip": self.flip, "every": self.every}


def model_file(ref: str, int8: bool = False) -> tuple[str, Path]:
    """(the name the table gives the model, its ONNX file), the way ``shipped.load_onnx`` resolves ``ref``."""
    from fera import shipped

    if shipped.is_shipped(ref):
        return ref, shipped.onnx_path(ref, int8 and shipped.has_int8(ref))
    p = Path(ref).expanduser()
    if not p.is_file():
        raise shipped.not_found(ref)
    return p.name, p


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_of(path: str) -> str:
    st = os.stat(path)
    return _sha256(path, st.st_size, st.st_mtime_ns)


class Engine:
    """The assistant of `fera assist`'s settings with one model (``Assistant.create``), loaded once per process: its
    detector, search and classifier."""

    def __init__(self, ref: str, settings: Settings):
        from fera.runtime.classify import ClassifyConfig
        from fera.runtime.pipeline import Assistant
        from fera.runtime.settings import Settings as Runtime

        threads = settings.threads  # None: the runtime's own (the detector's 2, the classifier's up to 4)
        detect = DetectConfig(model=settings.detector, threads=threads or DetectConfig.threads)
        self.assistant = Assistant.create(Runtime(detect=detect, classify=ClassifyConfig(
            ref, settings.int8, settings.flip, threads=threads)))
        self.classifier = self.assistant.classifier
        self.names = list(self.classifier.class_names)
        path = Path(self.classifier.model.path)
        self.model = model_file(ref, settings.int8)[0]
        self.sha256 = sha256_of(str(path))
        self.detector = settings.detector
        _ = self.assistant.detector.session  # load the detector now, not on the first frame


_engines: dict = {}
_lock = threading.Lock()
LOADS = {"count": 0}  # engines built in this process (each worker of a cluster builds one per model)


def engine(ref: str, settings: Settings) -> Engine:
    k = (ref, settings.detector, settings.int8, settings.flip, settings.threads)
    with _lock:
        if k not in _engines:
            _engines[k] = Engine(ref, settings)
            LOADS["count"] += 1
        return _engines[k]


@dataclass
class Task:
    """One source to analyse into ``part`` (a path every worker can write), with the key --resume compares."""

    source: object  # inputs.SourceSpec
    part: str
    key: dict
    index: int = 0  # its place among the run's sources (the order of the final table)


def analyze_source(task: Task, settings: Settings, progress=None) -> dict:
    """Analyse one source into its part file; returns what happened (never raises for a bad file: a source that
    cannot be read is "skipped" with the reason). ``progress(n)`` hears of every n analysed frames."""
    from fera.analyze.rows import photo_rows, VideoRows
    from fera.analyze.table import PartWriter

    src, t0 = task.source, time.perf_counter()
    result = {"source": src.path, "kind": src.kind, "status": "skipped", "frames": 0, "rows": 0, "faces": 0,
              "notices": [], "worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        eng = engine(settings.model_ref(src.kind), settings)
    except FeraError as e:
        return {**result, "reason": str(e)}
    result.update(model=eng.model, model_loads=LOADS["count"])
    frames = Frames(src, settings.every, result["notices"])
    writer = video = None
    try:
        writer = PartWriter(task.part, eng.names, {**task.key, "source": src.path, **src.stat()})
        video = VideoRows(eng, src, settings) if src.kind == "video" else None
        for fr in frames:
            rows = photo_rows(eng, src, fr) if video is None else video.add(fr)
            _write(writer, rows, result)
            result["frames"] += 1
            _hold(settings, src.path, fr.index)
            if progress is not None:
                progress(1)
        if video is not None:
            _write(writer, video.finish(), result)
        if frames.error or result["frames"] == 0:
            writer.abort()
            reason = frames.error or (frames.skipped or "no frame could be decoded")
            return {**result, "reason": reason, "seconds": round(time.perf_counter() - t0, 3)}
        result.update(status="done", rows=writer.rows, seconds=round(time.perf_counter() - t0, 3))
        writer.close({k: result[k] for k in ("frames", "notices", "seconds", "worker")})
        return result
    except BaseException as e:
        if writer is not None:
            writer.abort()
        if isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        return {**result, "reason": first_line(e)}
    finally:
        if video is not None:
            video.close()
        frames.close()


def _write(writer, rows, result: dict) -> None:
    for r in rows:
        writer.add(r)
        result["faces"] += r["faces"] > 0


class Frames:
    """The source's frames (every ``every``-th of a video), decoded ahead in a thread, a few at a time. Problems
    end up in ``error`` (the source cannot be opened), ``skipped`` (a photo that cannot be decoded) and
    ``notices`` (damaged frames, a video cut short)."""

    PREFETCH = 4

    def __init__(self, src, every: int, notices: list):
        self.src, self.every, self.notices = src, every, notices
        self.error: str | None = None
        self.skipped: str | None = None
        self._q: queue.Queue = queue.Queue(self.PREFETCH)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="fera-analyze-decode", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        from fera.runtime.sources import open_source

        source = None
        try:
            if not os.path.isfile(self.src.path):
                raise FeraError("no such file" if not os.path.exists(self.src.path) else "not a file")
            source = open_source(self.src.path, notice=self.notices.append)
            for fr in source:
                if fr.index % self.every == 0 and not self._put(fr):
                    return
            if source.skipped:
                self.skipped = source.skipped[0].reason
        except Exception as e:  # noqa: BLE001  (a file that cannot be opened: the source is skipped)
            self.error = first_line(e)
        finally:
            if source is not None:
                source.close()
            self._put(None)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        while (fr := self._q.get()) is not None:
            yield fr

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _hold(settings: Settings, path: str, index: int) -> None:
    """The test hook of ``Settings.hold`` (does nothing otherwise): events over a loopback socket, no polling."""
    import socket

    if settings.hold is None or (settings.hold[0], settings.hold[1]) != (path, index):
        return
    host, port = settings.hold[2].rsplit(":", 1)
    try:
        conn = socket.create_connection((host, int(port)), timeout=10)
    except OSError:  # nobody listens any more: this is a retry, which goes on
        return
    with conn:
        conn.sendall(f"{os.getpid()}\n".encode())
        conn.settimeout(settings.hold_s)
        try:
            conn.recv(1)  # b"" when the test closes its end
        except TimeoutError:
            raise RuntimeError(f"held at frame {index} of {path} for {settings.hold_s:g} s and never released") from None


def settings_record(settings: Settings) -> dict:
    """The run's settings, for the final table's metadata."""
    d = asdict(settings)
    d.pop("hold"), d.pop("hold_s")
    return d
