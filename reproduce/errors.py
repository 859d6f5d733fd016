"""User-facing errors: one line that names the problem and the fix, no traceback."""
import math
import os


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


def env_number(name: str, default, kind=float, minimum: float = 0):
    """A number from the environment variable `name` (unset or empty: `default`), else a UserError naming it."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or math.isnan(value) or value < minimum:
        raise UserError(f"{name}={text!r} must be {'an integer' if kind is int else 'a number'} >= {minimum}; "
                        f"unset it for the default ({default})")
    return value
