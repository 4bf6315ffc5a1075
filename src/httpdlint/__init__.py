"""httpdlint: read Apache httpd configuration trees as httpd does, lint them, size the server."""

__version__ = "0.1.0"
