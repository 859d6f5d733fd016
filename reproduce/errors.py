"""User-facing errors: one line that names the problem and the fix, no traceback."""


class UserError(Exception):
    """A problem the user can fix (bad parameter, missing data, no GPU...).

    The CLI prints str(err) on one line and exits 2; notebooks show the same message.
    """


def is_int(value) -> bool:
    """An integer as a user means it: True and False are not (JSON and YAML give bools for true/false)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """An int or a float, never a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
