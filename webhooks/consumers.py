"""The webhooks' consumer of domain events (SPEC 9 and 17): each chunk of a shop's stream becomes Delivery rows,
one per (endpoint, event) whose type the endpoint wants, in one INSERT ... SELECT, in the transaction that moves
the consumer's cursor. A chunk read twice inserts nothing twice (the unique key). The senders start on commit."""

from django.db import connection
from django.utils import timezone

from events.consumers import Consumer, DomainEvent
from shops.bulk import adapt, values_cte
from shops.models import Shop

from .models import Endpoint
from .services import send_on_commit

COLUMNS = (
    "shop_id, endpoint_id, event_id, event_type, event_seq, occurred_at, status, attempts, next_attempt_at, created_at"
)


def deliveries_create(*, shop: Shop, events: list[DomainEvent]) -> None:
    subscribed = Endpoint.objects.filter(shop=shop, enabled=True, deleted_at__isnull=True)
    pairs = [(pk, kind) for pk, kinds in subscribed.values_list("pk", "event_types") for kind in kinds]
    if not pairs or not events:
        return
    lowest, highest = min(e.seq for e in events), max(e.seq for e in events)
    v, params = values_cte("w", [("endpoint_id", "int"), ("type", "text")], pairs)
    now = adapt(timezone.now(), "datetime")
    sql = (
        f"{v} INSERT INTO webhooks_delivery ({COLUMNS}) "  # noqa: S608 - SQL from code, values as parameters
        "SELECT e.shop_id, w.endpoint_id, e.id, e.type, e.seq, e.occurred_at, 'pending', 0, %s, %s "
        "FROM events_event e JOIN w ON w.type = e.type "
        "WHERE e.shop_id = %s AND e.seq >= %s AND e.seq <= %s "
        "ON CONFLICT (shop_id, endpoint_id, event_id) DO NOTHING RETURNING endpoint_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, now, now, shop.pk, lowest, highest])
        created = {row[0] for row in cursor.fetchall()}
    send_on_commit(shop.pk, created)


WEBHOOKS = Consumer("webhooks.deliveries", handle=deliveries_create)
