"""The catalogue of domain event types (SPEC 9): what each means and what its payload holds.

Payloads are thin: ids and the values that changed, never a copy of the member's profile (an erased member's data
must not live on in the stream). Every event also carries the shop, the member it concerns (when it concerns one),
the time the fact happened (`occurred_at`) and, once sequenced, the shop's sequence number."""

from django.db import models


class EventType(models.TextChoices):
    # members: source is api, dashboard, portal, import, purchase (joined on purchase) ...
    MEMBER_JOINED = "member.joined", "member.joined"  # {source, channel_id?}
    MEMBER_UPDATED = "member.updated", "member.updated"  # {fields: [names of the profile fields that changed]}
    MEMBER_ERASED = "member.erased", "member.erased"  # {}
    CONSENT_CHANGED = "consent.changed", "consent.changed"  # {channel: granted (bool), source}
    # orders
    ORDER_RECORDED = "order.recorded", "order.recorded"  # {order_id, external_id, amount, status, paid_at}
    ORDER_STATUS_CHANGED = "order.status_changed", "order.status_changed"  # {order_id, external_id, from, to}
    # {order_id, external_id, refund_id, refund_external_id, amount, fully}
    ORDER_REFUNDED = "order.refunded", "order.refunded"
    # points: kind is earn, redeem, expire, adjust, reverse (entry kinds of points.models.EntryKind)
    POINTS_POSTED = "points.posted", "points.posted"  # {kind, points (signed), key, entry_id?, order_external_id?}
    # Points about to expire (the daily reminder pass): {points, expires_at, dedup_key}
    POINTS_EXPIRING = "points.expiring", "points.expiring"
    # tiers
    TIER_CHANGED = "tier.changed", "tier.changed"  # {change_id, from_tier_id, to_tier_id, reason}
    # coupons
    COUPON_ISSUED = "coupon.issued", "coupon.issued"  # {coupon_id, template_id, source}
    COUPON_REDEEMED = "coupon.redeemed", "coupon.redeemed"  # {coupon_id, template_id, order_external_id, discount}
    COUPON_EXPIRED = "coupon.expired", "coupon.expired"  # {coupon_id, template_id}
    # A member's coupon about to expire (the daily reminder pass): {coupon_id, template_id, ends_at}
    COUPON_EXPIRING = "coupon.expiring", "coupon.expiring"
    # recruitment
    # the inviter's event: {referral_id, invitee_id, inviter_points, invitee_points}
    REFERRAL_REWARDED = "referral.rewarded", "referral.rewarded"
    # analytics (SPEC 15): the nightly scoring moved the member to another churn-risk band (low, medium, high):
    # {from, to}; automations' win-back listens for to = "high"
    MEMBER_CHURN_RISK_CHANGED = "member.churn_risk_changed", "member.churn_risk_changed"
