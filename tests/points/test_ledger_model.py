"""A Hypothesis state machine drives the points ledger through random sequences of orders, refunds, cancellations,
redemptions, adjustments and nightly expiry, and checks after every step that it agrees with a simple model of
lots (soonest expiry consumed first, a refund's clawback from its order's own lot first) and that the books
balance: cached balance = sum of entries = sum of open lots, never negative. Amounts are small (a shop's daily
figures) or large: near and past 2**31 and 2**32, up to the largest order and MAX_POINTS (issue 16: 32-bit
parameters once cut 4,294,967,396 to 100)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from members.models import MAX_POINTS, Member
from members.services import Enrolment, member_enroll
from orders.models import Order
from orders.services import OrderInput, RefundInput, order_change_status, order_record, refund_record
from points.errors import InsufficientPoints
from points.expiry import points_expire
from points.models import ExpiryMode
from points.selectors import points_program_of, points_reconcile
from points.services import points_adjust, points_redeem
from shops.services import SYSTEM


def _amounts(small: int, largest: int, *, unit: int = 1) -> st.SearchStrategy[int]:
    """Whole numbers from 1: small ones, ones near a 32-bit edge (2**31 or 2**32 units, either side), and any up to
    `largest`. `unit`: 100 for cents, so that the yuan (the points an order earns) fall near the edges."""
    edges = st.sampled_from([2**31, 2**32]).flatmap(lambda edge: st.integers((edge - 3) * unit, (edge + 3) * unit))
    return st.one_of(st.integers(1, small), edges, st.integers(1, largest))


START = datetime(2025, 1, 1, tzinfo=UTC)  # the model's clock runs from here, always before the real now
LIFETIME = timedelta(days=30)


class LedgerMachine(RuleBasedStateMachine):
    shop = None  # one shop for every sequence (set by the test); each sequence has a member of its own
    members = 0

    @initialize()
    def new_member(self):
        LedgerMachine.members += 1
        phone = f"1380{LedgerMachine.members:07d}"
        self.member = member_enroll(shop=self.shop, data=Enrolment(phone=phone))[0]
        self.prefix = f"M{self.member.pk}-"
        self.clock = START
        self.lots = []  # the model: [expires_at, seq, remaining, order number or None]
        self.orders = {}  # order number -> [amount, refunded, points earned, points clawed back]
        self.seq = 0

    # --- the model ---------------------------------------------------------------------------------------------

    def _model_credit(self, points, order=None):
        self.seq += 1
        self.lots.append([self.clock + LIFETIME if order else _adjust_expiry(self), self.seq, points, order])

    def _model_debit(self, points, first_order=None):
        order = sorted(self.lots, key=lambda lot: (lot[3] != first_order if first_order else 0, lot[0], lot[1]))
        for lot in order:
            take = min(points, lot[2])
            lot[2] -= take
            points -= take

    def _model_balance(self) -> int:
        return sum(lot[2] for lot in self.lots)

    def _model_take_back(self, number):
        amount, refunded, earned, clawed = self.orders[number]
        kept = int(earned * (amount - refunded) / amount) if amount else 0
        due = earned - kept - clawed
        taken = min(due, self._model_balance()) if due > 0 else 0
        self._model_debit(taken, first_order=number)
        self.orders[number][3] += taken

    # --- rules -------------------------------------------------------------------------------------------------

    # up to 9,999,999,999.99: an order's amount is DecimalField(12, 2); at one point per yuan it earns its yuan
    @rule(cents=st.one_of(st.just(0), _amounts(50_000, 999_999_999_999, unit=100)), hours=st.integers(0, 24 * 20))
    def buy(self, cents, hours):
        self.clock += timedelta(hours=hours)
        number = f"{self.prefix}T{len(self.orders)}"
        amount = Decimal(cents) / 100
        order_record(
            shop=self.shop,
            data=OrderInput(external_id=number, amount=amount, paid_at=self.clock, member_id=self.member.pk),
        )
        earned = int(amount)
        self.orders[number] = [amount, Decimal(0), earned, 0]
        if earned:
            self._model_credit(earned, order=number)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), share=st.sampled_from([Decimal("0.1"), Decimal("0.5"), Decimal(1)]))
    def refund(self, data, share):
        number = data.draw(st.sampled_from(sorted(self.orders)))
        amount, refunded = self.orders[number][:2]
        cents = (amount - refunded) * share
        cents = cents.quantize(Decimal("0.01"))
        if cents <= 0:
            return
        order = Order.objects.get(shop=self.shop, external_id=number)
        refund_record(shop=self.shop, order=order, data=RefundInput(external_id=f"R{self.seq}-{number}", amount=cents))
        self.seq += 1
        self.orders[number][1] += cents
        self._model_take_back(number)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def cancel(self, data):
        number = data.draw(st.sampled_from(sorted(self.orders)))
        order = Order.objects.get(shop=self.shop, external_id=number)
        if order.status != "paid":
            return
        order_change_status(shop=self.shop, order=order, status="cancelled")
        self.orders[number][1] = self.orders[number][0]
        self._model_take_back(number)

    @rule(points=_amounts(800, MAX_POINTS))
    def redeem(self, points):
        self.seq += 1
        try:
            points_redeem(
                shop=self.shop, member=self.member, points=points, idempotency_key=f"{self.prefix}r{self.seq}"
            )
        except InsufficientPoints:
            assert points > self._model_balance()
            return
        assert points <= self._model_balance()
        self._model_debit(points)

    @rule(points=st.tuples(_amounts(300, MAX_POINTS), st.sampled_from([1, -1])).map(lambda p: p[0] * p[1]))
    def adjust(self, points):
        self.seq += 1
        try:
            points_adjust(
                shop=self.shop,
                member=self.member,
                points=points,
                reason="核对",
                idempotency_key=f"{self.prefix}a{self.seq}",
                actor=SYSTEM,
            )
        except InsufficientPoints:
            assert -points > self._model_balance()
            return
        if points > 0:
            self._model_credit(points)
        else:
            self._model_debit(-points)

    @rule(days=st.integers(0, 40))
    def night(self, days):
        self.clock += timedelta(days=days)
        points_expire(shop=self.shop, now=self.clock)
        for lot in self.lots:
            if lot[0] is not None and lot[0] <= self.clock:
                lot[2] = 0

    # --- invariants --------------------------------------------------------------------------------------------

    @invariant()
    def books_balance_and_match_the_model(self):
        balance = Member.objects.get(pk=self.member.pk).points_balance
        assert points_reconcile(shop=self.shop, member_ids=[self.member.pk]) == []
        assert balance == self._model_balance() >= 0


def _adjust_expiry(machine):
    """Staff adjustments are credited at the real now, so they expire long after the model's clock."""
    return datetime.max.replace(tzinfo=UTC)


@pytest.mark.django_db
def test_the_ledger_agrees_with_a_simple_model_over_a_thousand_random_sequences(shop):
    program = points_program_of(shop=shop)
    program.expiry_mode, program.expiry_period = ExpiryMode.AFTER_DAYS, LIFETIME.days
    program.save()
    LedgerMachine.shop = shop
    LedgerMachine.TestCase.settings = settings(
        max_examples=1000,
        stateful_step_count=10,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    LedgerMachine.TestCase().runTest()
