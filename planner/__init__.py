"""misp-planner: a MISP deployment sizing and topology planner."""

__version__ = "0.1.0"
