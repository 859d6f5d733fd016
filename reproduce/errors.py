"""User-facing errors: one line that names the problem and the fix, no traceback."""


class UserError(Exception):
    """A problem the user can fix (bad parameter, missing data, no GPU...).

    The CLI prints str(err) on one line and exits 2; notebooks show the same message.
    """
