"""flagstone-broadcast: publish/subscribe channels for WebSockets and server-sent events.

A drop-in for `broadcaster` (same `Broadcast`, `Event`, `Unsubscribed` and
URL schemes) that also holds past one process safely: a bounded backlog per
subscriber, one broker connection per process, reconnect with a gap signal,
history and resume on memory:// and redis-stream://, anyio (asyncio and
trio).  Brokers: memory://, redis:// / rediss:// (pub/sub), redis-stream://
(Redis Streams), postgres:// (LISTEN/NOTIFY).  It is not a job queue: a
message reaches the subscribers connected when it is published.
"""

__version__ = "0.1.0"

from ._asgi import event_source_response, websocket_relay
from ._backend import BroadcastBackend
from ._broadcast import Broadcast
from ._event import BacklogOverflow, BroadcastError, Event, Unsubscribed
from ._memory import MemoryBackend
from ._postgres import PostgresBackend
from ._redis import RedisPubSubBackend, RedisStreamBackend
from ._subscriber import Subscriber

__all__ = [
    "BacklogOverflow",
    "Broadcast",
    "BroadcastBackend",
    "BroadcastError",
    "Event",
    "MemoryBackend",
    "PostgresBackend",
    "RedisPubSubBackend",
    "RedisStreamBackend",
    "Subscriber",
    "Unsubscribed",
    "event_source_response",
    "websocket_relay",
]
