"""Why a model or its data cannot be published."""


class Refused(ValueError):
    """The model or its data cannot be used; the message names the problem and the fix."""
