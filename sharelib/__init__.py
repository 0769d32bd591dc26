"""sharelib: an executable companion to five papers on sharing in social dilemmas."""

__version__ = "0.1.0"
