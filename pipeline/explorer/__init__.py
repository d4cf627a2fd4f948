"""The journey explorer: what the worker's web server shows people about its live state (issue #13)."""
