"""How a channel reads on the dashboard and on its poster: its status now, and its welcome gift in words."""

import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from coupons.models import CouponTemplate

from ..models import Channel


class ChannelStatus:
    OPEN = "open"
    PAUSED = "paused"
    NOT_STARTED = "not_started"
    ENDED = "ended"
    LABELS = {
        OPEN: gettext_lazy("Open"),
        PAUSED: gettext_lazy("Paused"),
        NOT_STARTED: gettext_lazy("Not started"),
        ENDED: gettext_lazy("Ended"),
    }


def channel_status(channel: Channel, now: datetime.datetime | None = None) -> str:
    """Paused (by staff) before not started or ended (by its window); open when shoppers can join through it."""
    now = now or timezone.now()
    if not channel.is_active:
        return ChannelStatus.PAUSED
    if channel.valid_from is not None and now < channel.valid_from:
        return ChannelStatus.NOT_STARTED
    if channel.valid_until is not None and channel.valid_until <= now:
        return ChannelStatus.ENDED
    return ChannelStatus.OPEN


def gift_lines(*, channel: Channel, templates: list[CouponTemplate]) -> list[str]:
    """The welcome gift as lines for a poster: the points, then each coupon by its name (in the active language)."""
    lines = []
    if channel.welcome_points:
        points = channel.welcome_points
        lines.append(
            ngettext("%(points)s point for joining", "%(points)s points for joining", points) % {"points": points}
        )
    lines += [_("Welcome coupon: %(name)s") % {"name": template.name} for template in templates]
    return lines
