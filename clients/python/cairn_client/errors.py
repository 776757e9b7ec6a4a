"""errors.py - the one exception of the cairn Python client.

Every failure (a bad file, a refusal by the coordinator, a release that
does not verify against the log) raises CairnError with one line that
names what failed and where, as the `cairn query` CLI prints it after
"cairn query: error: ".
"""


class CairnError(Exception):
    """A one-line error: ``str(e)`` names what failed and where."""


class VerificationError(CairnError):
    """The log does not prove what the coordinator says (result, checkpoint,
    entry or signature)."""
