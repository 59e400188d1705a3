"""piccl's engine: sources, reading, analyzers, store, scan pipeline, CLI."""

__version__ = "0.1.0"
