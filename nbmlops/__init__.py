from nbmlops._version import __version__
