"""/files: uploads (the bytes go to the file store, owned by the caller's identity)."""

from __future__ import annotations

import base64
import binascii

from ..._protocol.packets.files import UploadFileBase64Parameter, UploadFileBase64Result
from ..errors import ServerError
from .context import CallContext, NamespaceTable, RpcEndpoint

__all__ = ["TABLE"]


async def upload_file_base64(
    ctx: CallContext, p: UploadFileBase64Parameter
) -> UploadFileBase64Result:
    # Refuse an oversized upload before decoding it (4 base64 characters per 3 bytes).
    ctx.files.check_size(max(0, len(p.content_base64) * 3 // 4 - 2))
    try:
        data = base64.b64decode(p.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ServerError(f"contentBase64 is not valid base64: {exc}") from exc
    stored = ctx.files.add(ctx.client_identifier, p.name, data)
    return UploadFileBase64Result(
        identifier=stored.identifier, file_type=stored.file_type, size_bytes=len(data)
    )


TABLE = NamespaceTable(
    "/files",
    rpcs={
        "uploadFileBase64": RpcEndpoint(upload_file_base64),
    },
)
