"""cmsref: CMS Medicare reference files as versioned, validated DuckDB tables. The top floor: the command
line, the build pipeline and the HTTP server."""

from core import __version__  # noqa: F401 (cmsref.__version__)
