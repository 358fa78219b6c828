"""The rows of one photo or of a video's frames, from the assistant's own pieces (see ``fera.analyze.run``).

A photo is described by ``Assistant.photo`` itself (its search, its classification). A video's frames go
through the assistant's search (``Assistant.search.frame``) and a tracker of its own per video (ids from 1),
exactly as ``Assistant.step`` does, and their faces are classified a batch at a time (``Settings.batch_size``
faces, or ``MAX_FRAMES`` frames) in a thread of their own, with the classifier's own model input and calibrated
probabilities (``Classifier.model_input``, ``Classifier.probabilities``). The probabilities are each frame's calibrated ones; the assistant smooths them over
about 300 ms before it speaks.
"""
from __future__ import annotations

import contextlib
import queue
import threading

import numpy as np

from fera.runtime.geometry import facing, yaw_ratio

MAX_FRAMES = 64  # frames waiting for their faces' classification, at most (bounds memory on face-less video)


def _base(eng, src, index: int, ts: float | None, w: int, h: int, n: int) -> dict:
    return {"source": src.path, "kind": src.kind, "frame": index, "timestamp": ts, "width": w, "height": h,
            "faces": n, "model": eng.model, "model_sha256": eng.sha256, "detector": eng.detector}


def _face(base: dict, eng, track_id: int, confirmed: bool, box, face, probs) -> dict:
    """One face: ``box`` as classified (inside the frame), ``face`` the tracked face (its keypoints and the box
    the announcer judges facing by)."""
    k = int(np.argmax(probs))
    row = {**base, "track_id": track_id, "confirmed": confirmed, "x": box.x, "y": box.y, "w": box.w, "h": box.h,
           "face_score": face.score, "facing": facing(face.keypoints, face.box.h, base["width"], base["height"]),
           "yaw": yaw_ratio(face.keypoints), "expression": eng.names[k], "confidence": float(probs[k])}
    row.update({f"p_{c}": float(p) for c, p in zip(eng.names, probs)})
    return row


def photo_rows(eng, src, fr) -> list[dict]:
    """A photo's rows: its faces left to right (ids 1, 2 ...), or one row saying it has none."""
    info, faces, _ = eng.assistant.photo(fr.image)
    base = _base(eng, src, 0, None, info.width, info.height, len(faces))
    return [_face(base, eng, i, True, f.box, f, f.probs) for i, f in enumerate(faces, start=1)] or [base]


class VideoRows:
    """A video's frames in, their rows out, in frame order. Detection and tracking run in the caller's thread,
    frame by frame; each full batch of faces goes to a classifier thread (at most ``QUEUE`` batches waiting), so
    the next frames are detected while the last ones are classified. ``add`` returns the rows of the batches
    classified so far, ``finish`` waits for the rest; ``close`` stops the thread (also after an error)."""

    QUEUE = 2

    def __init__(self, eng, src, settings):
        from fera.runtime.track import Tracker

        self.eng, self.src, self.batch = eng, src, settings.batch_size
        self.tracker = Tracker(eng.assistant.tracker.config, clock=lambda: 0.0)  # new ids for every video
        self._pending: list[tuple] = []
        self._inputs: list[np.ndarray] = []
        self._faces = 0
        self._jobs: queue.Queue = queue.Queue(self.QUEUE)
        self._done: queue.Queue = queue.Queue()
        self._outstanding = 0
        self._thread: threading.Thread | None = None

    def add(self, fr) -> list[dict]:
        from fera.runtime.detect import as_rgb

        image = as_rgb(fr.image)
        h, w = image.shape[:2]
        tracks = self.tracker.update(self.eng.assistant.search.frame(image), now=fr.timestamp)
        seen = [t for t in tracks if t.missed == 0]  # as Assistant.step: every track matched in this frame
        boxes = [t.face.clip(w, h) for t in seen]
        if boxes:
            self._inputs.append(self.eng.classifier.model_input(image, boxes))
            self._faces += len(boxes)
        self._pending.append((fr.index, fr.timestamp, w, h, seen, boxes))
        if self._faces >= self.batch or len(self._pending) >= MAX_FRAMES:
            self._submit()
        return self._collect(wait=False)

    def finish(self) -> list[dict]:
        """The rows of every frame so far (waits for their classification)."""
        self._submit()
        return self._collect(wait=True)

    def close(self) -> None:
        if self._thread is not None:
            while True:  # make room for the stop sign even if batches still wait (after an error)
                try:
                    self._jobs.put_nowait(None)
                    break
                except queue.Full:
                    with contextlib.suppress(queue.Empty):
                        self._jobs.get_nowait()
            self._thread.join(timeout=60)
            self._thread = None

    def _submit(self) -> None:
        if not self._pending:
            return
        job = (self._pending, self._inputs)
        self._pending, self._inputs, self._faces = [], [], 0
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="fera-analyze-classify", daemon=True)
            self._thread.start()
        self._jobs.put(job)  # blocks while QUEUE batches wait: memory stays bounded
        self._outstanding += 1

    def _collect(self, wait: bool) -> list[dict]:
        rows: list[dict] = []
        while self._outstanding:
            try:
                kind, value = self._done.get(block=wait)
            except queue.Empty:
                break
            self._outstanding -= 1
            if kind == "error":
                raise value
            rows += value
        return rows

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                self._done.put(("rows", self._rows(*job)))
            except BaseException as e:  # noqa: BLE001  (handed to the caller's thread, which raises it)
                self._done.put(("error", e))

    def _rows(self, pending, inputs) -> list[dict]:
        """Classify a batch and build the rows of its frames."""
        probs = (self.eng.classifier.probabilities(np.concatenate(inputs)) if inputs
                 else np.zeros((0, len(self.eng.names)), np.float32))
        rows, i = [], 0
        for index, ts, w, h, seen, boxes in pending:
            base = _base(self.eng, self.src, index, ts, w, h, len(seen))
            rows += [_face(base, self.eng, t.track_id, t.confirmed, b, t, probs[i + j])
                     for j, (t, b) in enumerate(zip(seen, boxes))] or [base]
            i += len(seen)
        return rows
