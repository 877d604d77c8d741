"""Errors a user sees. Every message names the file, row or check that failed."""


class CmsrefError(Exception):
    """Base class: the CLI prints the message and exits non-zero, without a traceback."""

    exit_code = 1


class DownloadError(CmsrefError):
    """A source file could not be fetched, or what came back is not what was expected.

    `transient` is true when trying again later may succeed (the server kept failing with 5xx, timeouts or
    resets); false for what will not change by waiting (404, a license page, a SHA-256 mismatch)."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class ArchiveError(CmsrefError):
    """A zip is truncated, corrupt, too large, or has a member that would escape its folder."""


class CatalogError(CmsrefError):
    """The source catalog or a layout file is invalid, or names something unknown."""


class ParseError(CmsrefError):
    """A source file does not have the layout its layout file describes."""


class ValidationError(CmsrefError):
    """A table failed its expectation suite; nothing was published."""


class PublishError(CmsrefError):
    """The warehouse refused a publish (e.g. another build holds the lock)."""


class NoDataError(CmsrefError):
    """No loaded release covers what was asked (e.g. a date of service)."""


class AlteredDataError(CmsrefError):
    """A published data version's content (rows, lineage, views or macros) no longer matches its manifest: it is
    never answered from or exported. `version` and `table` name what differs (no file path)."""

    def __init__(self, message: str, version: str = "", table: str = ""):
        super().__init__(message)
        self.version, self.table = version, table


class UnsafeOutputError(CmsrefError):
    """An output path would land on a file cmsref owns (the warehouse, its log or lock, the cache, the mirror)."""

    exit_code = 2
