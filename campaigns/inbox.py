"""The in-app inbox's one write (SPEC 12): opening the inbox marks the member's delivered in-app messages read.
`read_at` is set once, the first time; one UPDATE over the member's unread rows, safe to repeat."""

from django.utils import timezone

from shops.models import Shop

from .models import Channel, Message, MessageStatus


def inbox_mark_read(*, shop: Shop, member_id: int) -> int:
    """Mark the member's unread delivered in-app messages read now; the number marked (0 on a repeat)."""
    return Message.objects.filter(
        shop=shop,
        member_id=member_id,
        channel=Channel.IN_APP,
        status=MessageStatus.DELIVERED,
        read_at__isnull=True,
    ).update(read_at=timezone.now())
