"""The ``taskstate`` command line."""
