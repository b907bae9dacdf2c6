"""The one exception family of the Intel driver, so that callers (the command line) can turn
every refusal into a one-line message without knowing the driver's modules."""


class IntelDriverError(RuntimeError):
    """An Intel NIC cannot be used as asked; the message says why and what to do."""
