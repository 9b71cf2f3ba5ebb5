"""/diagnostics: ``streamLogs``, every prediction's input and output and the server's own log
records, to each subscriber until it sends ``stop`` or its socket closes. A new subscriber's
first event is the server's own ``server.log`` record of its subscription."""

from __future__ import annotations

import asyncio

from ..._protocol.packets.diagnostics import StreamLogsLogPacket, StreamLogsLogPacketLog
from ..._protocol.packets.diagnostics import (
    StreamLogsLogPacketLogDataServerLog as ServerLogData,
)
from .context import ChannelContext, ChannelEndpoint, NamespaceTable

__all__ = ["TABLE"]


async def stream_logs(ctx: ChannelContext, _: None) -> None:
    subscription = ctx.logs.subscribe()
    # Every subscriber (this one first of all) learns of it: a client that waits for this
    # record knows that what happens next on the server reaches it.
    ctx.logs.publish(
        ServerLogData(
            content=f"streamLogs: {ctx.client_identifier} subscribed "
            f"({ctx.logs.subscriber_count} subscriber(s))",
            level="info",
        )
    )
    stopped = asyncio.create_task(ctx.cancelled.wait())
    next_log: asyncio.Task[StreamLogsLogPacketLog] | None = None
    try:
        while True:
            next_log = asyncio.create_task(subscription.get())
            await asyncio.wait((next_log, stopped), return_when=asyncio.FIRST_COMPLETED)
            if stopped.done():
                return  # the client sent stop: close the channel
            ctx.send(StreamLogsLogPacket(log=next_log.result()))
    finally:
        # Also when the socket closes (this task is cancelled): the bus forgets the subscriber.
        ctx.logs.unsubscribe(subscription)
        stopped.cancel()
        if next_log is not None:
            next_log.cancel()


TABLE = NamespaceTable(
    "/diagnostics",
    channels={"streamLogs": ChannelEndpoint(stream_logs)},
)
