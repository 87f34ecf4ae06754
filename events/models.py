"""The outbox of domain events (SPEC 9), the shops' event streams and the consumers' cursors.

An event row is written in the transaction of the fact it reports, so it exists if and only if the fact committed.
Its `seq` is given after commit, by the one sequencer of its shop (events.dispatch): transactions commit in any
order, and numbering only what has committed means a consumer that has read up to `seq` n never later finds an
event below n. Consumers therefore keep one number per shop, not a set of ids."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.models import Shop, ShopOwned


class Event(ShopOwned):
    # UUIDv7 (events.outbox.uuid7): unique across shops and databases, ordered by the time it was written, so the
    # primary key (shop_id, id) also serves pruning a shop's events by age.
    id = models.UUIDField(primary_key=True, editable=False)
    # No database constraint: a foreign key check per event row cost a sixth of writing a batch's events, and shops
    # are never deleted (PROTECT everywhere else keeps them). Django's PROTECT still applies to deletions it makes.
    shop = models.ForeignKey(
        Shop, on_delete=models.PROTECT, db_index=False, db_constraint=False, verbose_name=_("shop")
    )
    type = models.CharField(_("type"), max_length=40)
    # Not a foreign key: the event outlives what it names, and writing it must not lock the member row.
    member_id = models.BigIntegerField(_("member"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    seq = models.BigIntegerField(_("sequence"), null=True, blank=True)
    payload = models.JSONField(_("payload"), default=dict)

    class Meta:
        verbose_name = _("domain event")
        verbose_name_plural = _("domain events")
        constraints = [models.UniqueConstraint(fields=["shop", "seq"], name="events_event_shop_seq")]
        indexes = [
            # The sequencer's queue: events committed and not yet numbered (a few, whatever the table's size).
            models.Index(fields=["shop", "id"], name="events_event_pending", condition=models.Q(seq__isnull=True)),
        ]


class Stream(models.Model):
    """A shop's event stream: the last sequence number given. Its row is the sequencer's lock."""

    shop = models.OneToOneField(Shop, on_delete=models.PROTECT, primary_key=True, verbose_name=_("shop"))
    head = models.BigIntegerField(_("last sequence number"), default=0)

    class Meta:
        verbose_name = _("event stream")
        verbose_name_plural = _("event streams")

    def __str__(self) -> str:
        return f"{self.shop_id}: {self.head}"


class Cursor(ShopOwned):
    """How far one consumer has read one shop's stream: every event up to `position` has been applied."""

    consumer = models.CharField(_("consumer"), max_length=60)
    position = models.BigIntegerField(_("position"), default=0)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("consumer cursor")
        verbose_name_plural = _("consumer cursors")
        constraints = [models.UniqueConstraint(fields=["shop", "consumer"], name="events_cursor_shop_consumer")]
