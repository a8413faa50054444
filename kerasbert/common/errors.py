"""The one exception type for user mistakes, so the CLI can tell them from bugs."""


class InputError(ValueError):
    """Bad input from the user: the message names the problem and the fix.

    The CLI prints the message and exits with status 2, without a traceback.
    """
