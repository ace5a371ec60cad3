"""Background work after the response, and app-owned tasks with backpressure, for any ASGI 3 app."""

__all__: list[str] = []
