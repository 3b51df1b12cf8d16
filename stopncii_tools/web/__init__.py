"""The only place that downloads: guarded fetching (SSRF checks, limits) and reading web pages."""
