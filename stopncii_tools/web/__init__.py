"""The only place that downloads: guarded fetching (SSRF checks, limits) and reading web pages.

``fetch`` holds :class:`~stopncii_tools.web.fetch.Fetcher` and URL checks; ``pages`` finds the
pictures and videos a page shows.
"""

__all__ = ["fetch", "pages"]
