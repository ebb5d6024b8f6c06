"""multipart/form-data, streamed: a send's fields (bounded like a JSON body) and its
files, each streamed into the media store as it arrives and checked against its kind's
limits on the way, so a request's size never becomes the gateway's memory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from typing import Any, Final

import aiohttp
import attrs
from aiohttp import web

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import MediaKind
from waport.domain.media import kind_from_mime, mime_from_name
from waport.domain.records import MediaObject
from waport_http import bodies

Upload = Callable[[AsyncIterable[bytes], str, str | None, MediaKind | None], Awaitable[MediaObject]]
"""Store a file: (chunks, MIME type, filename, kind or None) -> the stored object."""


@attrs.frozen
class Form:
    """A multipart send: the body to send (files as media ids) and the files stored."""

    body: dict[str, Any]
    uploads: tuple[MediaObject, ...]

    def fingerprint(self) -> dict[str, Any]:
        """The body with each upload's id replaced by its digest: what an idempotent
        retry of the same form matches (its uploads get new ids)."""
        text = json.dumps(self.body, sort_keys=True)
        for media in self.uploads:
            text = text.replace(json.dumps(media.id), json.dumps(f"sha256:{media.sha256}"))
        loaded: dict[str, Any] = json.loads(text)
        return loaded


FILES: Final = ("file", "header_file")
_YES: Final = ("true", "1", "yes")
_NO: Final = ("false", "0", "no")
JSON_FIELDS: Final = frozenset(
    {"metadata", "contact", "template", "interactive", "location", "contacts", "reaction"}
)


UNKNOWN: Final = "application/octet-stream"


def mime_of(given: str | None, filename: str | None) -> str:
    """A file's type as given, else as its file name implies (a form's file part often
    comes without one, or as ``application/octet-stream``: bytes of no type said)."""
    if given and given.split(";", 1)[0].strip().lower() != UNKNOWN:
        return given
    return mime_from_name(filename or "") or given or UNKNOWN


async def parts(request: web.Request, *, max_upload: int) -> AsyncIterable[aiohttp.BodyPartReader]:
    """The named parts of a multipart body, in order."""
    if request.content_length is not None and request.content_length > max_upload:
        raise WaportError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"the body may be at most {max_upload} bytes"
        )
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, aiohttp.BodyPartReader) or not part.name:
                raise WaportError(ErrorCode.VALIDATION_FAILED, "every part needs a name")
            yield part
    except ValueError as exc:  # aiohttp's multipart parser refusing the body
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, f"the multipart body is malformed: {exc}"
        ) from None


def chunks(request: web.Request, part: aiohttp.BodyPartReader) -> AsyncIterable[bytes]:
    return bodies.stream(lambda: part.read_chunk(bodies.READ_CHUNK), bodies.body_timeout(request))


async def field(request: web.Request, part: aiohttp.BodyPartReader, limit: int) -> str:
    """A text field, refused as soon as it passes ``limit`` bytes (not after)."""
    data = bytearray()
    async for chunk in chunks(request, part):
        data.extend(chunk)
        if len(data) > limit:
            raise WaportError(ErrorCode.PAYLOAD_TOO_LARGE, "a form field is too large", part.name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, "form fields are UTF-8 text", part.name
        ) from None


def file_kind(fields: Mapping[str, str], name: str) -> MediaKind | None:
    """The kind a ``file`` part declares by an earlier ``type`` field, if any."""
    declared = fields.get("type") if name == "file" else None
    return MediaKind(declared) if declared in set(MediaKind) else None


async def read_send(
    request: web.Request, upload: Upload, *, max_upload: int, max_field: int
) -> Form:
    """A send as multipart/form-data: fields as in the JSON body (``metadata``,
    ``contact``, ``template`` as JSON strings), plus ``file`` (direct media) or
    ``header_file`` (a template's header media), each stored by ``upload`` as it
    arrives and sent by its media id. A ``type`` field before ``file`` names its kind."""
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, str | None]] = {}
    stored: list[MediaObject] = []
    async for part in parts(request, max_upload=max_upload):
        name = part.name or ""
        if name in FILES:
            if name in files:
                raise WaportError(ErrorCode.VALIDATION_FAILED, f"give {name} once", name)
            mime = mime_of(part.headers.get(aiohttp.hdrs.CONTENT_TYPE), part.filename)
            try:
                kept = await upload(
                    chunks(request, part), mime, part.filename, file_kind(fields, name)
                )
            except WaportError as err:  # name the part: "file", "file.mime_type"
                where = f"{name}.{err.param}" if err.param else name
                raise attrs.evolve(err, param=where) from None
            stored.append(kept)
            files[name] = (kept.id, mime, part.filename)
        else:
            fields[name] = await field(request, part, max_field)
    return Form(_form_to_body(fields, files), tuple(stored))


def _form_to_body(
    fields: Mapping[str, str], files: Mapping[str, tuple[str, str, str | None]]
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("type", "caption", "filename", "voice"):
            continue
        if name in JSON_FIELDS:
            try:
                body[name] = json.loads(value)
            except ValueError:
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED, f"{name} must be JSON", name
                ) from None
            bodies.check_text(body[name], value.encode("utf-8", "surrogatepass"))
        elif name == "check_window":
            said = value.strip().lower()
            if said not in _YES + _NO:
                raise WaportError(ErrorCode.VALIDATION_FAILED, "true or false", name)
            body[name] = said in _YES
        else:
            body[name] = value
    if "file" in files:
        media_id, mime, part_filename = files["file"]
        kind = file_kind(fields, "file") or kind_from_mime(mime)
        media: dict[str, Any] = {"id": media_id, "type": str(kind)}
        if fields.get("caption"):
            media["caption"] = fields["caption"]
        filename = fields.get("filename") or part_filename
        if filename and kind == MediaKind.DOCUMENT:
            media["filename"] = filename
        body["media"] = media
    if "header_file" in files:
        template = body.get("template")
        if not isinstance(template, dict):
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "a header_file needs a template field", "header_file"
            )
        media_id, mime, _ = files["header_file"]
        template["header"] = {"id": media_id, "type": str(kind_from_mime(mime))}
    return body
