"""The base floor every other floor builds on: errors, settings, the field and table registries, the in-effect
rule and SQL helpers. It imports nothing of cmsref's other packages."""

__version__ = "0.1.0"
