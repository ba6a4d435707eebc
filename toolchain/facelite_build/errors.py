"""Errors only the toolchain raises; the runtime's `facelite.errors` knows nothing of recipes.

`RecipeError` is a `facelite.errors.UserError`, so every CLI prints its message without
a traceback and exits 2, like any other problem the user can fix.
"""

from facelite.errors import UserError


class RecipeError(UserError):
    """A recipe file is malformed or names unknown keys or values."""
