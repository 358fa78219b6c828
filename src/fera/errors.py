"""The one exception type the CLI turns into a clear one-line message and exit code 2."""


class FeraError(Exception):
    """A problem with the user's input or environment (not a bug): shown as one line, exit code 2."""
