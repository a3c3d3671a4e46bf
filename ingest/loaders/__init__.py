"""File loaders: one module per format, each turning bytes into a Document or a LoadFailure."""

from ingest.loaders.folder import FolderSource, load_file, supported_suffixes

__all__ = ["FolderSource", "load_file", "supported_suffixes"]
