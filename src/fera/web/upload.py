"""Photo uploads, in memory only: refused by their Content-Length before a byte of the body is read,
read with a hard cap, and parsed as they stream in. Nothing is spooled to a temporary file (FastAPI's
``UploadFile`` writes anything over 1 MB to one), so no photo ever reaches the disk.
"""
from __future__ import annotations

OVERHEAD = 64 * 2**10  # multipart boundaries and part headers, on top of the photo itself
MAX_PARTS = 8
MAX_FIELD = 1024  # a text field (the class name), at most


class Refused(Exception):
    """A request fera will not serve: an HTTP status and one sentence for the person."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def too_large(max_file: int) -> Refused:
    return Refused(413, f"the file is larger than {max_file / 2**20:g} MB")


class _Parts:
    """multipart/form-data callbacks: keeps the ``file`` part and the wanted text fields, in memory."""

    def __init__(self, max_file: int, fields: tuple[str, ...]):
        self.max_file, self.fields = max_file, fields
        self.file: bytearray | None = None
        self.values: dict[str, str] = {}
        self.count, self.ended = 0, False
        self._name = self._field = self._value = b""
        self._buf: bytearray | None = None
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> dict:
        return {"on_part_begin": self.begin, "on_header_field": self.header_field, "on_header_value": self.header_value,
                "on_header_end": self.header_end, "on_headers_finished": self.headers_finished,
                "on_part_data": self.data, "on_part_end": self.part_end, "on_end": self.end}

    def begin(self):
        self.count += 1
        if self.count > MAX_PARTS:
            raise Refused(400, f"too many parts in the upload (at most {MAX_PARTS})")
        self._headers, self._buf, self._name = {}, None, b""

    def header_field(self, data, start, end):
        self._field += data[start:end]

    def header_value(self, data, start, end):
        self._value += data[start:end]

    def header_end(self):
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def headers_finished(self):
        from python_multipart.multipart import parse_options_header

        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"")
        if self._name == b"file":
            if self.file is not None:
                raise Refused(400, "send one photo per request")
            self.file = self._buf = bytearray()
        elif self._name.decode("latin-1") in self.fields:
            self._buf = bytearray()

    def data(self, data, start, end):
        if self._buf is None:
            return  # a part nobody asked for: dropped
        self._buf += data[start:end]
        limit = self.max_file if self._buf is self.file else MAX_FIELD
        if len(self._buf) > limit:
            raise too_large(self.max_file) if self._buf is self.file else Refused(400, "a form field is too long")

    def part_end(self):
        if self._buf is not None and self._buf is not self.file:
            self.values[self._name.decode("latin-1")] = self._buf.decode("utf-8", "replace")
        self._buf = None

    def end(self):
        self.ended = True


def _quiet():
    import logging

    log = logging.getLogger("fera.web.upload.parser")
    log.propagate, log.disabled = False, True
    return log


async def read_form(request, max_file: int, fields: tuple[str, ...] = ()) -> tuple[bytes, dict[str, str]]:
    """(the photo's bytes, {field: text}) of a multipart/form-data request whose photo is in ``file``."""
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header
    from starlette.requests import ClientDisconnect

    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise Refused(415, 'send the photo as multipart/form-data, in a field named "file"')
    limit = max_file + OVERHEAD
    length = request.headers.get("content-length")
    if length is not None:
        if not length.strip().isdigit():
            raise Refused(400, "the request's Content-Length is not a number")
        if int(length) > limit:
            raise too_large(max_file)  # before a byte of the body is read
    parts = _Parts(max_file, fields)
    try:
        parser = MultipartParser(params[b"boundary"], parts.callbacks())
        parser.logger = _quiet()  # it logs each malformed upload before raising; the client gets the sentence
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_large(max_file)
            parser.write(chunk)
    except FormParserError:
        raise Refused(400, "the upload is not valid multipart/form-data") from None
    except ClientDisconnect:  # nobody is left to read the answer; no error in the server's log either
        raise Refused(400, "the upload was cut short") from None
    if not parts.ended:
        raise Refused(400, "the upload was cut short or is not valid multipart/form-data")
    if parts.file is None:
        raise Refused(400, 'no photo in the upload: send it in a field named "file"')
    return bytes(parts.file), parts.values
