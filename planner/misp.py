"""MISP facts the planner relies on, each in one place with its source in shared/misp/REFERENCE.md."""

from __future__ import annotations

from enum import IntEnum


class Distribution(IntEnum):
    """Event distribution levels, ``Event::DISTRIBUTION_*`` (REFERENCE §2.1); spec §1 gives the words."""

    ORGANISATION = 0
    COMMUNITY = 1
    CONNECTED = 2
    ALL = 3
    SHARING_GROUP = 4

    @property
    def word(self) -> str:
        return DISTRIBUTION_WORDS[self]

    @classmethod
    def parse(cls, value: object) -> Distribution:
        if isinstance(value, bool):
            raise ValueError("expected a distribution level, not true/false")
        if isinstance(value, int) and 0 <= value <= 4:
            return cls(value)
        if isinstance(value, str) and value in _BY_WORD:
            return _BY_WORD[value]
        raise ValueError(f"'{value}' is not a distribution level; use one of "
                         f"{', '.join(DISTRIBUTION_WORDS.values())} (or MISP's 0-4)")


DISTRIBUTION_WORDS = {
    Distribution.ORGANISATION: "organisation",
    Distribution.COMMUNITY: "community",
    Distribution.CONNECTED: "connected",
    Distribution.ALL: "all",
    Distribution.SHARING_GROUP: "sharing-group",
}
_BY_WORD = {word: level for level, word in DISTRIBUTION_WORDS.items()}

# Default role ids on a fresh MISP install (REFERENCE §11, observed on 2.5.1).
ROLE_IDS = {"admin": 1, "org_admin": 2, "user": 3, "publisher": 4, "sync_user": 5, "read_only": 6}

# The coarse volume classes of the seed: provisioning changes around 50 million attributes
# (REFERENCE §7.4).
VOLUME_THRESHOLD_ATTRIBUTES = 50_000_000
VOLUME_CLASSES = ("below-50M", "above-50M")

SUPPORTED_PLATFORMS = ("ubuntu-24.04", "debian-12", "debian-13")  # REFERENCE §8.2
DEFAULT_MISP_VERSION = "2.5"  # REFERENCE §8.1
