"""The whole flagstone toolkit in one import: routing, requests, sessions, background tasks and a test client, plus the App."""

__all__: list[str] = []
