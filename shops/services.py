"""Writes of the tenancy platform: shops, staff, invitations, API keys and the audit log.

Invariants: a shop always keeps at least one owner; only owners make or remove owners; an API key's secret is
never stored (only its SHA-256); every staff or API write here leaves one audit log entry in its transaction.
"""

import hashlib
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.forms.models import model_to_dict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .errors import ApplicationError, Conflict, Forbidden
from .extensions import SHOP_DEFAULTS, implementations
from .models import ApiKey, AuditLogEntry, Invitation, Shop, StaffMembership, User
from .roles import Role
from .sms import SmsMessage
from .tasks import sms_deliver
from .tenancy import all_shops

API_KEY_PREFIX = "hy_"
INVITATION_VALID_FOR = timedelta(days=7)
# last_used_at is written at most this often per key, so a busy key does not turn every request into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Actor:
    """Who performs a write: a signed-in staff user, an API key, or the system (commands, tasks)."""

    user: User | None = None
    api_key: ApiKey | None = None
    ip_address: str | None = None
    label: str = "system"

    @classmethod
    def for_user(cls, user: User, ip_address: str | None = None) -> "Actor":
        return cls(user=user, ip_address=ip_address, label=user.email)

    @classmethod
    def for_api_key(cls, api_key: ApiKey, ip_address: str | None = None) -> "Actor":
        return cls(api_key=api_key, ip_address=ip_address, label=f"api:{api_key.name} ({api_key.prefix})")


SYSTEM = Actor()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def sms_send(*, shop: Shop, phone: str, text: str) -> SmsMessage:
    """Queue one SMS to `phone` (E.164) after the current transaction commits."""
    message = SmsMessage(shop_id=shop.pk, phone=phone, text=text)
    transaction.on_commit(lambda: sms_deliver.delay(asdict(message)))
    return message


def audit_record(*, shop: Shop, actor: Actor, action: str, obj=None, changes: dict | None = None) -> AuditLogEntry:
    """`changes` maps each field to [before, after] ("" for none)."""
    return AuditLogEntry.objects.create(
        shop=shop,
        actor_user=actor.user,
        actor_api_key=actor.api_key,
        actor_label=actor.label[:200],
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        changes=changes or {},
        ip_address=actor.ip_address,
    )


def _slug_taken(slug: str) -> Conflict:
    return Conflict(_("The link name %(slug)s is already taken.") % {"slug": slug}, code="slug_taken")


@transaction.atomic
def shop_create(*, name: str, slug: str, owner: User, actor: Actor = SYSTEM, **fields) -> Shop:
    """Create a shop with `owner` as its first owner, and through the extension point SHOP_DEFAULTS
    (shops.extensions) each app's default program. Raises Conflict when the slug is taken."""
    if Shop.objects.filter(slug=slug).exists():
        raise _slug_taken(slug)
    shop = Shop(name=name, slug=slug, **fields)
    shop.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            shop.save()
    except IntegrityError:  # lost a race for the same slug
        raise _slug_taken(slug) from None
    StaffMembership.objects.create(shop=shop, user=owner, role=Role.OWNER)
    for create_defaults in implementations(SHOP_DEFAULTS):  # the tier ladder, the points rules
        create_defaults(shop=shop)
    audit_record(shop=shop, actor=actor, action="shop.create", obj=shop)
    return shop


def user_ensure(*, email: str, password: str | None = None, name: str = "") -> User:
    """The account for `email`, created when missing (a missing password means: set it by password reset)."""
    user = User.objects.filter(email__iexact=email).first()
    return user or User.objects.create_user(email=email, password=password, name=name)


@transaction.atomic
def user_sign_up(*, email: str, password: str, name: str, shop_name: str, shop_slug: str) -> tuple[User, Shop] | None:
    """A merchant's self sign-up: a new user who owns a new shop, emailed where to log in. Raises Conflict for a
    taken slug (public anyway: the shop's links show it).

    An email that already has an account creates nothing and returns None; the address is emailed instead. So the
    caller can answer both alike, and a stranger cannot learn from sign-up which addresses have accounts."""
    if Shop.objects.filter(slug=shop_slug).exists():  # before the email: the same error whoever signs up
        raise _slug_taken(shop_slug)
    if User.objects.filter(email__iexact=email).exists():
        make_password(password)  # the hashing a new account costs: the answer takes about as long
        _sign_up_taken_email(email)
        return None
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, name=name)
    except IntegrityError:  # lost a race for the same email: as above
        _sign_up_taken_email(email)
        return None
    shop = shop_create(name=shop_name, slug=shop_slug, owner=user, actor=Actor.for_user(user))
    subject = _("Your shop %(shop)s is ready on Huiyuan") % {"shop": shop.name}
    _sign_up_email(email, subject, "shops/email/sign_up_welcome.txt", shop=shop)
    return user, shop


def _sign_up_taken_email(email: str) -> None:
    # Nothing the form carried goes into it (a stranger's shop name in a real owner's inbox would be a lure).
    subject = _("Someone tried to sign up for Huiyuan with your email address")
    _sign_up_email(email, subject, "shops/email/sign_up_taken.txt")


def _sign_up_email(email: str, subject: str, template: str, **context) -> None:
    """Sent after commit, in the language of the sign-up page."""
    site = settings.SITE_URL.rstrip("/")
    body = render_to_string(
        template, {**context, "login_link": site + reverse("login"), "reset_link": site + reverse("password_reset")}
    )
    transaction.on_commit(lambda: send_mail(subject=subject, message=body, from_email=None, recipient_list=[email]))


SHOP_SETTINGS_FIELDS = ("name", "currency", "time_zone", "locale", "logo", "colour")


@transaction.atomic
def shop_update(*, shop: Shop, actor: Actor, **fields) -> Shop:
    """Change shop settings; the audit entry records each changed field before and after."""
    unknown = set(fields) - set(SHOP_SETTINGS_FIELDS)
    if unknown:
        raise ApplicationError(details={"fields": sorted(unknown)})
    before = model_to_dict(shop, fields=SHOP_SETTINGS_FIELDS)
    for field, value in fields.items():
        setattr(shop, field, value)
    shop.full_clean()
    shop.save()
    after = model_to_dict(shop, fields=SHOP_SETTINGS_FIELDS)
    changes = {f: [str(before[f]), str(after[f])] for f in SHOP_SETTINGS_FIELDS if before[f] != after[f]}
    if changes:
        audit_record(shop=shop, actor=actor, action="shop.update", obj=shop, changes=changes)
    return shop


@transaction.atomic
def shop_set_active(*, shop: Shop, actor: Actor, active: bool) -> Shop:
    """Freeze (active=False) or unfreeze a shop: a frozen shop's dashboard and API refuse every request."""
    if Shop.objects.filter(pk=shop.pk).exclude(is_active=active).update(is_active=active):
        shop.is_active = active
        audit_record(shop=shop, actor=actor, action="shop.unfreeze" if active else "shop.freeze", obj=shop)
    return shop


def _require_owner_for(role: str, *, shop: Shop, actor: Actor) -> None:
    """Only an owner may give or take away the owner role."""
    if role != Role.OWNER:
        return
    if not StaffMembership.objects.filter(shop=shop, user=actor.user, role=Role.OWNER).exists():
        raise Forbidden(_("Only an owner can make or remove owners."))


@transaction.atomic
def staff_invite(*, shop: Shop, actor: Actor, email: str, role: str) -> Invitation:
    """Invite `email` to the shop's staff with `role` and email them a link.

    A second invitation to the same address replaces the first. Raises Conflict when they are already staff.
    """
    email = email.strip().lower()
    _require_owner_for(role, shop=shop, actor=actor)
    if StaffMembership.objects.filter(shop=shop, user__email__iexact=email).exists():
        raise Conflict(_("%(email)s is already on your staff.") % {"email": email}, code="already_staff")
    Invitation.objects.filter(shop=shop, email=email, accepted_at=None, cancelled_at=None).update(
        cancelled_at=timezone.now()
    )
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        shop=shop,
        email=email,
        role=role,
        token_hash=_digest(token),
        invited_by=actor.user,
        expires_at=timezone.now() + INVITATION_VALID_FOR,
    )
    audit_record(shop=shop, actor=actor, action="staff.invite", obj=invitation, changes={"role": ["", role]})
    link = settings.SITE_URL.rstrip("/") + reverse("invitation_accept", args=[token])
    # The invitee has no language preference yet: write to them in the shop's language.
    with translation.override(shop.locale):
        role = invitation.get_role_display()
        context = {"shop": shop, "link": link, "role": role, "days": INVITATION_VALID_FOR.days}
        subject = _("You are invited to join %(shop)s on Huiyuan") % {"shop": shop.name}
        body = render_to_string("shops/email/invitation.txt", context)
    transaction.on_commit(lambda: send_mail(subject=subject, message=body, from_email=None, recipient_list=[email]))
    return invitation


def invitation_by_token(*, token: str) -> Invitation:
    """The open, unexpired invitation for `token`. Raises Invitation.DoesNotExist otherwise."""
    # Cross-shop by nature: the token is what tells us the shop.
    with all_shops():
        return Invitation.objects.select_related("shop").get(
            token_hash=_digest(token), accepted_at=None, cancelled_at=None, expires_at__gt=timezone.now()
        )


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> StaffMembership:
    """Add `user` to the invitation's shop. The invitation must be addressed to the user's email."""
    if user.email.lower() != invitation.email.lower():
        raise Forbidden(
            _("This invitation was sent to %(email)s. Sign in with that address to accept it.")
            % {"email": invitation.email},
            code="wrong_account",
        )
    shop = invitation.shop
    updated = Invitation.objects.filter(pk=invitation.pk, shop=shop, accepted_at=None, cancelled_at=None).update(
        accepted_at=timezone.now()
    )
    if not updated:
        raise Conflict(_("This invitation has already been used or cancelled."), code="invitation_used")
    membership, _created = StaffMembership.objects.get_or_create(
        shop=shop, user=user, defaults={"role": invitation.role}
    )
    audit_record(
        shop=shop,
        actor=Actor.for_user(user),
        action="staff.join",
        obj=membership,
        changes={"role": ["", membership.role]},
    )
    return membership


@transaction.atomic
def invitation_accept_as_new_user(*, invitation: Invitation, name: str, password: str) -> StaffMembership:
    """Create the invited person's account and accept the invitation. Raises Conflict when the email already has
    an account (that person signs in and accepts instead)."""
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=invitation.email, password=password, name=name)
    except IntegrityError:
        raise Conflict(_("An account with this email already exists. Sign in to accept."), code="email_taken") from None
    return invitation_accept(invitation=invitation, user=user)


@transaction.atomic
def invitation_cancel(*, shop: Shop, actor: Actor, invitation: Invitation) -> None:
    assert invitation.shop_id == shop.pk
    Invitation.objects.filter(pk=invitation.pk, shop=shop, accepted_at=None).update(cancelled_at=timezone.now())
    audit_record(shop=shop, actor=actor, action="staff.invitation_cancel", obj=invitation)


@transaction.atomic
def staff_add(*, shop: Shop, actor: Actor, user: User, role: str) -> StaffMembership:
    """Add an existing account to the staff directly (operators, scripts, the demo); staff use invitations."""
    membership = StaffMembership.objects.create(shop=shop, user=user, role=role)
    audit_record(shop=shop, actor=actor, action="staff.add", obj=membership, changes={"role": ["", role]})
    return membership


def _lock_for_staff_change(*, shop: Shop, membership: StaffMembership) -> tuple[StaffMembership, list[StaffMembership]]:
    """Lock the changed row and the shop's owner rows in primary-key order and read them afresh, so decisions rest
    on committed roles and two concurrent changes cannot leave the shop without an owner (or deadlock)."""
    rows = list(
        StaffMembership.objects.select_for_update()
        .filter(shop=shop)
        .filter(Q(role=Role.OWNER) | Q(pk=membership.pk))
        .order_by("pk")
    )
    target = next((row for row in rows if row.pk == membership.pk), None)
    if target is None:
        raise StaffMembership.DoesNotExist  # removed meanwhile
    return target, [row for row in rows if row.role == Role.OWNER]


def _check_owner_rules(*, actor: Actor, owners: list[StaffMembership], target: StaffMembership, new_role: str | None):
    """Only an owner gives or takes the owner role; the last owner stays (new_role None means removal)."""
    touches_owner = Role.OWNER in (target.role, new_role)
    if touches_owner and not any(actor.user and row.user_id == actor.user.pk for row in owners):
        raise Forbidden(_("Only an owner can make or remove owners."))
    if target.role == Role.OWNER and new_role != Role.OWNER and [row.pk for row in owners] == [target.pk]:
        raise Conflict(_("A shop needs at least one owner."), code="last_owner")


@transaction.atomic
def staff_change_role(*, shop: Shop, actor: Actor, membership: StaffMembership, role: str) -> StaffMembership:
    """Give a staff member another role. Raises Forbidden (owner rules) or Conflict (last owner)."""
    assert membership.shop_id == shop.pk
    if role not in Role.values:
        raise ApplicationError(_("Unknown role."), code="unknown_role")
    target, owners = _lock_for_staff_change(shop=shop, membership=membership)
    if role == target.role:
        return target
    _check_owner_rules(actor=actor, owners=owners, target=target, new_role=role)
    before = target.role
    StaffMembership.objects.filter(pk=target.pk, shop=shop).update(role=role)
    target.role = role
    audit_record(shop=shop, actor=actor, action="staff.role_change", obj=target, changes={"role": [before, role]})
    return target


@transaction.atomic
def staff_remove(*, shop: Shop, actor: Actor, membership: StaffMembership) -> None:
    """Remove a person from the shop's staff (their account stays). Raises Forbidden or Conflict (last owner)."""
    assert membership.shop_id == shop.pk
    target, owners = _lock_for_staff_change(shop=shop, membership=membership)
    _check_owner_rules(actor=actor, owners=owners, target=target, new_role=None)
    audit_record(shop=shop, actor=actor, action="staff.remove", obj=target, changes={"role": [target.role, ""]})
    StaffMembership.objects.filter(pk=target.pk, shop=shop).delete()


@transaction.atomic
def apikey_create(*, shop: Shop, actor: Actor, name: str) -> tuple[ApiKey, str]:
    """Create an API key and return it with its secret, which is never shown again."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        shop=shop, name=name.strip(), prefix=secret[:10], key_hash=_digest(secret), created_by=actor.user
    )
    audit_record(shop=shop, actor=actor, action="apikey.create", obj=api_key)
    return api_key, secret


@transaction.atomic
def apikey_revoke(*, shop: Shop, actor: Actor, api_key: ApiKey) -> ApiKey:
    """Revoke a key at once. Revoking a revoked key changes nothing."""
    assert api_key.shop_id == shop.pk
    if ApiKey.objects.filter(pk=api_key.pk, shop=shop, revoked_at=None).update(revoked_at=timezone.now()):
        api_key.refresh_from_db(fields=["revoked_at"])
        audit_record(shop=shop, actor=actor, action="apikey.revoke", obj=api_key)
    return api_key


_KEY_LOOKUP_SQL = """
    SELECT s.*, k.id AS key_id, k.name AS key_name, k.prefix AS key_prefix, k.last_used_at AS key_last_used_at
    FROM shops_apikey k JOIN shops_shop s ON s.id = k.shop_id
    WHERE k.key_hash = %s AND k.revoked_at IS NULL"""


def apikey_authenticate(*, secret: str) -> ApiKey | None:
    """The active key for `secret` (with its shop), or None. Records the last use, at most once a minute."""
    if not secret.startswith(API_KEY_PREFIX):
        return None
    # Cross-shop by nature: the key is what tells us the shop. This runs on every API request, so the query is
    # written out once (the ORM would compile the same select_related on each call, a millisecond of CPU).
    with all_shops():
        shop = next(iter(Shop.objects.raw(_KEY_LOOKUP_SQL, [_digest(secret)])), None)
        if shop is None:
            return None
        last_used_at = shop.key_last_used_at
        if last_used_at is not None and timezone.is_naive(last_used_at):  # SQLite: raw extra columns stay naive UTC
            last_used_at = timezone.make_aware(last_used_at, UTC)
        # As the ORM builds a partly loaded row: the other fields are deferred (read on access), so a save()
        # could never blank them.
        api_key = ApiKey.from_db(
            "default",
            ["id", "shop_id", "name", "prefix", "last_used_at"],
            [shop.key_id, shop.pk, shop.key_name, shop.key_prefix, last_used_at],
        )
        api_key.shop = shop
        now = timezone.now()
        # Most requests find a fresh last_used_at and write nothing; the conditional UPDATE keeps concurrent
        # requests from all writing when it goes stale.
        if api_key.last_used_at is None or api_key.last_used_at < now - LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).filter(
                Q(last_used_at=None) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
            ).update(last_used_at=now)
    return api_key
