"""cmsref: CMS Medicare reference files as versioned, validated DuckDB tables."""

__version__ = "0.1.0"
