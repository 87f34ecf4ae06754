import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shops.distribution import ShopForeignKey
from shops.models import ShopOwned

# Points and growth value are 64-bit integers end to end (CONVENTIONS 3). One operation (an earn, a redemption, an
# adjustment, a price, a reward, a threshold) is at most MAX_POINTS: every API field, form and service that takes
# an amount refuses more with a clear error, and an order's award is capped there (points.rules). A member's
# balances stay within MAX_BALANCE (a CheckConstraint; the services refuse the write that would pass it), so that
# no sum overflows a bigint (2**63 - 1, about 9.2 x 10**18): neither a balance plus the largest batch of credits
# (1,000 orders of MAX_POINTS), nor a total over thousands of members at the limit (SQLite's SUM stays an integer).
MAX_POINTS = 10**12
MAX_BALANCE = 10**15
BALANCE_LIMIT_CONSTRAINT = "member_balances_within_limit"


class Gender(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")


class MemberStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    FROZEN = "frozen", _("Frozen")
    ERASED = "erased", _("Erased")


# "Not erased" for written-out queries, as text rather than a parameter: a prepared statement's generic plan can then
# use the partial indexes on live members (the unique phone, the shop's live members).
LIVE_SQL = f"status <> '{MemberStatus.ERASED.value}'"


class ConsentChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    PUSH = "push", _("Push")
    EMAIL = "email", _("Email")
    SERVICE = "service", _("Service messages")


# The channels of marketing consent (given by ticking, withdrawn on erasure); service messages are on by default.
MARKETING_CHANNELS = (ConsentChannel.SMS, ConsentChannel.PUSH, ConsentChannel.EMAIL)


# A member's holdout bucket (SPEC 12): a fixed uniform draw in 0..BUCKETS-1 made at enrolment, so that a campaign
# holds out a share of its audience by bucket range, the same members each time.
BUCKETS = 10_000


def bucket_draw() -> int:
    """A new member's bucket, drawn in Python for inserts through the ORM (the value is known without a read)."""
    return secrets.randbelow(BUCKETS)


class RandomBucket(models.Expression):
    """A bucket drawn by the database, one per row: the column's default for inserts written in SQL (imports,
    benchmark data) and the migration's backfill. SQLite's random() is a signed 64-bit integer (abs() of its
    smallest value overflows, hence the modulo first)."""

    output_field = models.PositiveSmallIntegerField()
    allowed_default = True

    def as_sql(self, compiler, connection):
        return f"floor(random() * {BUCKETS})::smallint", []

    def as_sqlite(self, compiler, connection):
        return f"abs(random() %% {BUCKETS})", []  # %% as Django writes its own modulo


class Member(ShopOwned):
    """A shopper enrolled in a shop's program. Phone numbers are E.164 and unique per shop among members that are
    not erased; erasure blanks personal fields but keeps the row, its orders and its aggregates."""

    phone = models.CharField(_("phone"), max_length=20)
    name = models.CharField(_("name"), max_length=50, blank=True)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, default=Gender.UNKNOWN)
    birthday_month = models.PositiveSmallIntegerField(_("birthday month"), null=True, blank=True)
    birthday_day = models.PositiveSmallIntegerField(_("birthday day"), null=True, blank=True)
    birth_year = models.PositiveSmallIntegerField(_("birth year"), null=True, blank=True)
    region = models.CharField(_("region"), max_length=64, blank=True)
    email = models.EmailField(_("email"), blank=True)
    external_id = models.CharField(_("platform buyer id"), max_length=64, blank=True)
    wechat_openid = models.CharField(_("WeChat openid"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=MemberStatus.choices, default=MemberStatus.ACTIVE)
    join_channel = models.CharField(_("join channel"), max_length=32, blank=True)
    referrer = ShopForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # the partial index member_referrer holds only members who were referred
        verbose_name=_("referrer"),
    )
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)
    consent_sms = models.BooleanField(_("SMS marketing"), default=False)
    consent_push = models.BooleanField(_("push marketing"), default=False)
    consent_email = models.BooleanField(_("email marketing"), default=False)
    # Order updates and other service messages: not marketing, so on from the start; a member may turn them off.
    consent_service = models.BooleanField(_("service messages"), default=True, db_default=True)
    # The cached figures below (aggregates, windows, balances, tier) are written only by members.figures, at the
    # request of the app that owns their meaning, in the transaction that writes the facts they summarise.
    # Aggregates of the member's orders, kept current for orders.services in the same transaction as each order.
    lifetime_spend = models.DecimalField(_("lifetime spend"), max_digits=14, decimal_places=2, default=0)
    order_count = models.IntegerField(_("orders"), default=0)
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    # Rolling 12-month figures, changed by each order and re-aged set-based nightly (member_windows_refresh), so
    # filters and tiers read a column instead of aggregating orders.
    spend_12m = models.DecimalField(_("spend, last 12 months"), max_digits=14, decimal_places=2, default=0)
    orders_12m = models.IntegerField(_("orders, last 12 months"), default=0)
    # Cached balances of the points and growth value ledgers, changed only in the transaction that writes the
    # entry (points.selectors reconciles them); here so that lists, filters and tiers read a column.
    points_balance = models.BigIntegerField(_("points"), default=0)
    points_pending = models.BigIntegerField(_("pending points"), default=0)
    growth_value = models.BigIntegerField(_("growth value"), default=0)
    # The member's tier, decided by tiers (NULL: the shop's rank-0 tier, so joining writes nothing), and
    # the end of its retention period, before which it is never lowered (NULL: never lowered).
    tier = ShopForeignKey(
        "tiers.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("tier"),
    )
    tier_until = models.DateTimeField(_("tier kept until"), null=True, blank=True)
    bucket = models.PositiveSmallIntegerField(_("holdout bucket"), default=bucket_draw, db_default=RandomBucket())
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "phone"], condition=~Q(status="erased"), name="member_unique_phone_per_shop"
            ),
            models.UniqueConstraint(
                fields=["shop", "external_id"], condition=~Q(external_id=""), name="member_unique_external_id"
            ),
            models.CheckConstraint(
                condition=Q(points_balance__gte=0, points_pending__gte=0, growth_value__gte=0),
                name="member_points_never_negative",
            ),
            models.CheckConstraint(
                condition=Q(
                    points_balance__lte=MAX_BALANCE, points_pending__lte=MAX_BALANCE, growth_value__lte=MAX_BALANCE
                ),
                name=BALANCE_LIMIT_CONSTRAINT,
            ),
            models.CheckConstraint(
                condition=Q(birthday_month__isnull=True) | Q(birthday_month__gte=1, birthday_month__lte=12),
                name="member_birthday_month_range",
            ),
            models.CheckConstraint(
                condition=Q(birthday_day__isnull=True) | Q(birthday_day__gte=1, birthday_day__lte=31),
                name="member_birthday_day_range",
            ),
            models.CheckConstraint(condition=Q(order_count__gte=0), name="member_order_count_non_negative"),
            models.CheckConstraint(condition=Q(bucket__gte=0, bucket__lt=BUCKETS), name="member_bucket_range"),
        ]
        indexes = [
            models.Index(fields=["shop", "-last_order_at", "-id"], name="member_shop_last_order"),
            models.Index(fields=["shop", "-joined_at", "-id"], name="member_shop_joined"),
            models.Index(fields=["shop", "-lifetime_spend", "-id"], name="member_shop_spend"),
            models.Index(fields=["shop", "birthday_month", "birthday_day"], name="member_shop_birthday"),
            models.Index(fields=["shop", "name"], name="member_shop_name"),
            models.Index(fields=["shop", "-spend_12m", "-id"], name="member_shop_spend_12m"),
            models.Index(fields=["shop", "-order_count", "-id"], name="member_shop_order_count"),
            # A tier's members newest buyers first (the list's default sort), as member_shop_last_order is for all.
            models.Index(fields=["shop", "tier", "-last_order_at", "-id"], name="member_shop_tier_last_order"),
            # The daily incremental tier evaluation (tiers.evaluation.changed_members) finds the rows changed since
            # its last run and the retention periods ending, instead of reading every member. Writes that change
            # updated_at already change indexed aggregates (no HOT update to lose), but for points-only updates.
            models.Index(fields=["shop", "updated_at"], name="member_shop_updated"),
            models.Index(
                fields=["shop", "tier_until"], condition=Q(tier_until__isnull=False), name="member_shop_tier_until"
            ),
            models.Index(fields=["referrer"], condition=Q(referrer__isnull=False), name="member_referrer"),
            # The live members' ids alone: segment counts join it to tags and other conditions without the heap.
            models.Index(fields=["shop", "id"], condition=~models.Q(status="erased"), name="member_shop_live"),
        ]

    def __str__(self):
        # Never the phone: this string reaches audit logs and admin lists read by roles that may not see phones.
        return f"{self.name or _('Member')} #{self.pk}"

    @property
    def profile_complete(self) -> bool:
        """Name, gender, birthday and region all given: what the profile-completion task reward asks for."""
        return bool(self.name and self.gender != Gender.UNKNOWN and self.birthday_month and self.region)


class ConsentChange(ShopOwned):
    """Every change of a member's marketing consent: what, when, and where it came from (PIPL/GDPR evidence)."""

    member = ShopForeignKey(Member, on_delete=models.CASCADE, related_name="consent_changes")
    channel = models.CharField(_("channel"), max_length=8, choices=ConsentChannel.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=32)
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        ordering = ["-changed_at", "-pk"]
        indexes = [models.Index(fields=["shop", "member", "-changed_at"], name="consent_member_time")]


class DevicePlatform(models.TextChoices):
    IOS = "ios", _("iOS")
    ANDROID = "android", _("Android")
    HARMONY = "harmony", _("HarmonyOS")
    WEB = "web", _("Web")


class Device(ShopOwned):
    """A member's app push token. A token belongs to one member of a shop at a time: registered again for another
    member (a phone that changed hands), it moves to that member (members.services.device_register)."""

    # No index of its own: device_shop_member (shop, member) serves the member's devices.
    member = ShopForeignKey(
        Member, on_delete=models.CASCADE, related_name="devices", db_index=False, verbose_name=_("member")
    )
    platform = models.CharField(_("platform"), max_length=8, choices=DevicePlatform.choices)
    token = models.CharField(_("push token"), max_length=255)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("registered"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        constraints = [models.UniqueConstraint(fields=["shop", "token"], name="device_unique_token_per_shop")]
        indexes = [models.Index(fields=["shop", "member"], name="device_shop_member")]

    def __str__(self):
        return f"{self.get_platform_display()} #{self.pk}"


class TagKind(models.TextChoices):
    MANUAL = "manual", _("Manual")
    RULE = "rule", _("Rule")


class Tag(ShopOwned):
    """A label on members. Manual tags are set by staff or imports; rule tags hold the members matching `rule`
    (a member filter, see members.filters) and are refreshed in bulk."""

    name = models.CharField(_("name"), max_length=50)
    kind = models.CharField(_("kind"), max_length=8, choices=TagKind.choices, default=TagKind.MANUAL)
    rule = models.JSONField(_("rule"), default=dict, blank=True)
    member_count = models.IntegerField(_("members"), default=0)
    refreshed_at = models.DateTimeField(_("refreshed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["shop", "name"], name="tag_unique_name_per_shop")]

    def __str__(self):
        return self.name


class MemberTag(ShopOwned):
    tag = ShopForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    member = ShopForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "tag", "member"], name="member_tag_unique")]
        indexes = [models.Index(fields=["shop", "member"], name="member_tag_member")]


class Segment(ShopOwned):
    """A saved member filter (members.filters), compiled to one SQL query; feeds coupons and campaigns."""

    name = models.CharField(_("name"), max_length=100)
    definition = models.JSONField(_("filter"), default=dict)
    last_count = models.IntegerField(_("members at last count"), null=True, blank=True)
    counted_at = models.DateTimeField(_("counted"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["shop", "name"], name="segment_unique_name_per_shop")]

    def __str__(self):
        return self.name


class JobChunk(ShopOwned):
    """One chunk of a job run in parallel by members.jobs: the job's members with ids in (after_id, upto_id]. Written
    when the chunk is handed out, marked done in the transaction that does its work, so a chunk task run twice does
    it once; a chunk still pending long after it was handed out lost its task, and the sweep hands it out again."""

    kind = models.CharField(max_length=40)  # the job's kind (members.jobs.JobKind.name)
    job_id = models.BigIntegerField()
    after_id = models.BigIntegerField()
    upto_id = models.BigIntegerField()
    done = models.BooleanField(default=False)
    dispatches = models.IntegerField(default=1)
    dispatched_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "kind", "job_id", "after_id"], name="job_chunk_unique_start")
        ]
        indexes = [
            # The pending chunks, few at any time, that the sweep reads every few minutes.
            models.Index(fields=["shop", "dispatched_at"], condition=Q(done=False), name="job_chunk_pending"),
        ]


class ImportKind(models.TextChoices):
    MEMBERS = "members", _("Members")
    ORDERS = "orders", _("Orders")


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(ShopOwned):
    """An uploaded CSV/XLSX file of members or historical orders, processed by a Celery task in chunks.
    Good rows are kept; every bad row is named in the error report with its reason."""

    kind = models.CharField(_("kind"), max_length=8, choices=ImportKind.choices)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    status = models.CharField(_("status"), max_length=8, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    total_rows = models.IntegerField(_("rows"), default=0)
    processed_rows = models.IntegerField(_("processed"), default=0)
    created_rows = models.IntegerField(_("created"), default=0)
    duplicate_rows = models.IntegerField(_("duplicates"), default=0)
    error_rows = models.IntegerField(_("errors"), default=0)
    # [{"row": 7, "reason": "..."}], the row-by-row report (also downloadable as CSV)
    errors = models.JSONField(_("error report"), default=list, blank=True)
    message = models.TextField(_("message"), blank=True)
    created_by = models.ForeignKey("shops.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    # The last time the job's process showed it was alive (started, read on, wrote a chunk): a running job whose
    # process died keeps its status, and members.imports.stale fails it once this is old.
    heartbeat_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-pk"]
        indexes = [
            # The unfinished jobs, few at any time, that the check for dead processes reads every few minutes.
            models.Index(
                fields=["shop", "status"], condition=Q(status__in=["pending", "running"]), name="import_unfinished"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.original_name}"
