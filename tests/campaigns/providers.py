"""Fake SMS providers for the failure scenarios, plugged in by dotted path (SMS_BACKEND): they keep what they take
in the locmem outbox, so the tests count every message a shopper would get."""

from shops.messaging import DeliveryError
from shops.sms import LocmemBackend

__all__ = ["DeliveryError", "FailingAfter"]


class FailingAfter(LocmemBackend):
    """Takes the first `after` messages of the next call, then fails the call as a provider timing out would:
    the caller does not know which were taken."""

    after: int | None = None

    @classmethod
    def arm(cls, *, after: int) -> None:
        cls.after = after

    def send_many(self, messages):
        if FailingAfter.after is not None:
            cut, FailingAfter.after = FailingAfter.after, None
            super().send_many(messages[:cut])
            raise DeliveryError("provider timed out")
        return super().send_many(messages)
