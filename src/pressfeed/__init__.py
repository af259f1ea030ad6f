"""pressfeed: per-topic news feeds and email digests from a folder of press releases."""

__version__ = "0.1.0"
