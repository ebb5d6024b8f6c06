"""``/v1/media``: upload once (streamed into the media store), download with ETag and
Range, delete."""

from __future__ import annotations

import re
import urllib.parse
from typing import TYPE_CHECKING, Final

import attrs
from aiohttp import web

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import MediaKind
from waport.domain.records import MediaObject
from waport.service import Scope, inbound_media, media
from waport_http import bodies, forms
from waport_http.middleware import ok
from waport_http.views import media_view

if TYPE_CHECKING:
    from waport_http.app import Gateway

_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one ``(first, last)`` byte range a ``Range`` header asks for (None: the whole
    body; a form we do not serve, such as several ranges, is ignored as RFC 9110
    allows); ``RANGE_NOT_SATISFIABLE`` when it lies outside the media."""
    if header is None:
        return None
    found = _RANGE.fullmatch(header.strip())
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first_text, last_text = found.groups()
    if first_text == "":  # the last N bytes
        first, last = max(0, size - int(last_text)), size - 1
    else:
        first = int(first_text)
        last = min(int(last_text), size - 1) if last_text else size - 1
    if first >= size or first > last:
        raise WaportError(ErrorCode.RANGE_NOT_SATISFIABLE, f"the media has {size} bytes", "Range")
    return first, last


def _disposition(filename: str | None) -> str:
    if not filename:
        return "attachment"
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'")
    ascii_name = "".join(ch if " " <= ch <= "~" else "_" for ch in ascii_name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(filename)}"


@attrs.frozen
class Routes:
    gw: Gateway

    def table(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/media", self.upload),
            web.get("/v1/media/{media_id}", self.download),
            web.delete("/v1/media/{media_id}", self.delete),
        ]

    async def upload(self, request: web.Request) -> web.Response:
        """A multipart field ``file`` (``type`` and ``filename`` fields before it), or the
        raw body with its ``Content-Type``; ``?type=`` and ``?filename=`` serve both (a
        form's own fields win)."""
        gw = self.gw
        key = await gw.authenticate(request, "messages:send")
        scope = gw.scope(key)
        query = bodies.query(request, "filename", "type")
        kind = _kind(query.get("type"))
        filename = query.get("filename") or None
        if request.content_type == "multipart/form-data":
            kept = await self._upload_form(request, scope, kind, filename)
        else:
            if request.content_length is not None and request.content_length > gw.max_upload_bytes:
                raise WaportError(
                    ErrorCode.PAYLOAD_TOO_LARGE,
                    f"the body may be at most {gw.max_upload_bytes} bytes",
                )
            mime = forms.mime_of(request.headers.get("Content-Type"), filename)
            chunks = bodies.stream(
                lambda: request.content.read(bodies.READ_CHUNK), bodies.body_timeout(request)
            )
            kept = await media.upload(
                gw.core,
                scope,
                chunks,
                mime_type=mime,
                filename=filename,
                kind=kind,
            )
        return ok({"status": "ok", "data": media_view(kept)}, status=201)

    async def _upload_form(
        self, request: web.Request, scope: Scope, kind: MediaKind | None, filename: str | None
    ) -> MediaObject:
        gw = self.gw
        fields: dict[str, str] = {}
        kept: MediaObject | None = None
        async for part in forms.parts(request, max_upload=gw.max_upload_bytes):
            if part.name == "file" and kept is None:
                name = fields.get("filename") or filename or part.filename
                kept = await media.upload(
                    gw.core,
                    scope,
                    forms.chunks(request, part),
                    mime_type=forms.mime_of(part.headers.get("Content-Type"), name),
                    filename=name,
                    kind=_kind(fields.get("type") or None) or kind,  # an empty field: none
                )
            elif part.name in ("type", "filename") and kept is None:
                if part.name in fields:
                    raise WaportError(
                        ErrorCode.VALIDATION_FAILED, f"give {part.name} once", part.name
                    )
                fields[part.name] = await forms.field(request, part, 1024)
            else:
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED,
                    "an upload is a type and a filename field, then one file",
                    part.name,
                )
        if kept is None:
            raise WaportError(ErrorCode.VALIDATION_FAILED, "the form has no file part", "file")
        return kept

    async def download(self, request: web.Request) -> web.StreamResponse:
        gw = self.gw
        key = await gw.authenticate(request, "messages:read")
        media_id, scope = request.match_info["media_id"], gw.scope(key)
        try:
            found = await media.find(gw.core, scope, media_id)
        except WaportError as err:
            if err.code is not ErrorCode.MEDIA_NOT_FOUND:
                raise
            found = await inbound_media.for_download(gw.core, scope, media_id)  # lazy
        etag = f'"{found.sha256}"'
        headers = {
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, max-age=31536000, immutable",
            "Content-Disposition": _disposition(found.filename),
        }
        wanted = {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}
        if etag in wanted or "*" in wanted:
            return web.Response(status=304, headers=headers)
        span = byte_range(request.headers.get("Range"), found.size)
        first, last = span if span is not None else (0, found.size - 1)
        response = web.StreamResponse(status=206 if span else 200, headers=headers)
        response.content_type = found.mime_type.split(";", 1)[0].strip()
        response.content_length = last - first + 1 if found.size else 0
        if span is not None:
            response.headers["Content-Range"] = f"bytes {first}-{last}/{found.size}"
        try:
            await response.prepare(request)
            position = 0
            async for chunk in media.read(gw.core, found.id):
                end = position + len(chunk)
                if end > first and position <= last:
                    await response.write(chunk[max(0, first - position) : last - position + 1])
                position = end
                if position > last:
                    break
            await response.write_eof()
        except ConnectionError as exc:  # the client stopped reading: nobody to answer
            raise bodies.ClientGone(str(exc)) from None
        return response

    async def delete(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:send")
        media_id = request.match_info["media_id"]
        await media.delete(gw.core, gw.scope(key), media_id)
        return ok({"status": "ok", "data": {"media_id": media_id, "deleted": True}})


def _kind(text: str | None) -> MediaKind | None:
    """The kind named, if any (an empty or unknown name is refused)."""
    if text is None:
        return None
    try:
        return MediaKind(text)
    except ValueError:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, f"type must be one of {', '.join(MediaKind)}", "type"
        ) from None
