from enum import StrEnum


class JobStatus(StrEnum):
    """Open: a value this spec does not list (a server newer than this client) is
    kept as a member-like value whose ``.value`` is what the server sent, unequal to
    every listed member, not among ``list()`` of the class, and written back unchanged
    by ``to_dict()``. Check with ``.known``. Requests stay closed: the wrapper refuses
    unlisted values."""

    COMPLETED = "completed"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"

    @classmethod
    def _missing_(cls, value: object) -> "JobStatus | None":
        if not isinstance(value, str):
            return None
        # The wrapper logs a warning once per unknown value (writer_jobs._engine).
        unknown = str.__new__(cls, value)
        unknown._name_ = value
        unknown._value_ = value
        return unknown

    @property
    def known(self) -> bool:
        """Whether the spec lists this value."""
        return self._value_ in type(self)._value2member_map_

    def __str__(self) -> str:
        return str(self.value)
