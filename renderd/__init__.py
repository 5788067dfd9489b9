"""renderd: the daemon that turns a shared folder into a render farm."""

__version__ = "0.1.0"
