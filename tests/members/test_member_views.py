"""The members dashboard: list (search, filters, sorts, keyset pages, counts), masked phones and audited reveals,
the profile with its one timeline, edit/freeze/erase/export, manual and bulk tags, the tags and segments pages."""

import ast
import json
import re
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from members.models import ConsentChange, Member, MemberStatus, MemberTag, Segment, Tag, TagKind
from members.segments import segment_save
from members.selectors import member_page
from members.services import Enrolment, member_enroll, member_update
from members.tags import member_tag_change, tag_apply, tag_create
from members.timeline import TimelineEvent
from members.views import members as member_views
from orders import member_data as order_member_data
from orders.services import ItemInput, OrderInput, RefundInput, order_record, refund_record
from shops.extensions import MEMBER_DATA
from shops.models import AuditLogEntry
from shops.registry import Registration, registry
from shops.roles import ROLE_PERMISSIONS, Perm, Role
from shops.services import SYSTEM
from tests.pages import staff_client, url

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"
NOW = timezone.now()


# --- helpers ---------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _english(settings):
    """Assertions read English text; the pages' own default language (zh-hans) is tested in tests/shops."""
    settings.LANGUAGE_CODE = "en"


def timeline(*, shop, member, limit):
    """A provider for test_the_timeline_and_export_take_data_from_every_registered_provider (this module is one)."""
    return [TimelineEvent(at=member.joined_at - timedelta(days=1), kind="points", title="Earned 500 points")]


def export(*, shop, member):
    return {"points": {"balance": 500}}


def enrol(shop, phone, name="", **fields) -> Member:
    member, created = member_enroll(shop=shop, data=Enrolment(phone=phone, name=name, **fields))
    assert created
    return member


def buy(shop, member, external_id, amount, days_ago=1, items=()) -> None:
    order_record(
        shop=shop,
        data=OrderInput(
            external_id=external_id,
            member_id=member.pk,
            amount=Decimal(amount),
            paid_at=NOW - timedelta(days=days_ago),
            items=tuple(items),
        ),
    )


def listed(response) -> list[str]:
    """Names of the members on a list page, in order."""
    return [m.name for m in response.context["members"]]


def links(html: str) -> list[str]:
    return re.findall(r'(?:href|action|src)="([^"]*)"', html)


def phone_fragments(phone: str) -> list[str]:
    """Ways a number could show up in a URL: national, E.164 (raw or percent-encoded) and the hidden middle."""
    national = phone.removeprefix("+86")
    return [national, phone, phone.replace("+", "%2B"), national[3:7] + national[7:]]


def assert_no_phone_in_links(html: str, *phones: str):
    for link in links(html):
        for phone in phones:
            for fragment in phone_fragments(phone):
                assert fragment not in link, (fragment, link)


def audit(shop, action):
    return list(AuditLogEntry.objects.filter(shop=shop, action=action).values_list("object_id", "actor_label"))


@pytest.fixture
def people(shop, other_shop):
    """Five members of shop A with known figures (and one of shop B that must never show up)."""
    a = enrol(shop, "13800138001", "Alice", gender="female", birthday_month=3, birthday_day=8, region="广东省 深圳市")
    b = enrol(shop, "13800138002", "Bob", gender="male", birthday_month=7, birthday_day=1, region="上海市")
    c = enrol(shop, "13800138003", "Carol", gender="female", region="广东省 广州市", channel="qr")
    d = enrol(shop, "13800138004", "Dan", external_id="tb-dan", consents={"sms": True, "email": True})
    e = enrol(shop, "13800138005", "Eve", channel="qr", consents={"sms": True})
    buy(shop, a, "A1", "3000.00", days_ago=400)  # outside the 12-month window
    buy(shop, a, "A2", "100.00", days_ago=3)
    buy(shop, b, "B1", "500.00", days_ago=40)
    buy(shop, c, "C1", "50.00", days_ago=200)
    buy(shop, c, "C2", "60.00", days_ago=100)
    buy(shop, c, "C3", "70.00", days_ago=10)
    enrol(other_shop, "13800138009", "Mallory")
    from members.services import member_set_frozen

    member_set_frozen(shop=shop, member=e, actor=SYSTEM, frozen=True)
    return SimpleNamespace(a=a, b=b, c=c, d=d, e=e)


# --- who may see what ------------------------------------------------------------------------------------------

READ_PAGES = {"members": Perm.MEMBERS_VIEW, "member_tags": Perm.MEMBERS_VIEW, "segments": Perm.MEMBERS_VIEW}
MEMBER_PAGES = {"member": Perm.MEMBERS_VIEW, "member_edit": Perm.MEMBERS_CHANGE, "member_erase": Perm.MEMBERS_EXPORT}
WRITE_PAGES = {"segment_create": Perm.MEMBERS_CHANGE, "member_rule_tag_create": Perm.MEMBERS_CHANGE}


@pytest.mark.parametrize("role", Role.values)
def test_each_role_sees_the_member_pages_it_may_and_is_refused_the_others(client, shop, people, role):
    staff_client(client, shop, role)
    segment = segment_save(shop=shop, actor=SYSTEM, name="big", definition={"spend_min": "100"})
    pages = [(url(n, shop), p) for n, p in {**READ_PAGES, **WRITE_PAGES}.items()]
    pages += [(url(n, shop, people.a.pk), p) for n, p in MEMBER_PAGES.items()]
    pages += [(url("segment_edit", shop, segment.pk), Perm.MEMBERS_CHANGE)]
    for page, permission in pages:
        response = client.get(page)
        allowed = permission in ROLE_PERMISSIONS[role]
        assert response.status_code == (200 if allowed else 403), (role, page)


@pytest.mark.parametrize("role", Role.values)
def test_the_menu_links_members_and_orders_for_the_roles_that_may(client, shop, role):
    staff_client(client, shop, role)
    html = client.get(url("home", shop)).content.decode()
    assert (f'href="{url("members", shop)}"' in html) == (Perm.MEMBERS_VIEW in ROLE_PERMISSIONS[role])
    assert (f'href="{url("orders", shop)}"' in html) == (Perm.ORDERS_VIEW in ROLE_PERMISSIONS[role])


# --- search ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["13800138002", "138 0013 8002", "+86 138-0013-8002", "8613800138002"])
def test_a_phone_in_any_format_finds_the_member_and_stays_out_of_the_url(owner_client, shop, people, typed):
    # when: the search is posted
    response = owner_client.post(url("members", shop), {"q": typed})
    # then: the list is at ?f=<token>, and nothing in the URL is the number
    assert response.status_code == 302
    location = response["Location"]
    assert list(parse_qs(urlsplit(location).query)) == ["f"]
    for fragment in [*phone_fragments("+8613800138002"), typed, "0013"]:
        assert fragment not in location
    page = owner_client.get(location)
    assert listed(page) == ["Bob"]
    assert page.context["count"] == 1
    assert page.context["form"]["q"].value() == typed  # the box still shows what was typed
    assert_no_phone_in_links(page.content.decode(), "+8613800138002")


def test_search_by_name_prefix_and_by_platform_buyer_id(owner_client, shop, people):
    by_name = owner_client.get(owner_client.post(url("members", shop), {"q": "Ca"})["Location"])
    by_buyer_id = owner_client.get(owner_client.post(url("members", shop), {"q": "tb-dan"})["Location"])
    assert listed(by_name) == ["Carol"]
    assert listed(by_buyer_id) == ["Dan"]


def test_a_search_in_get_parameters_is_ignored_so_no_link_can_carry_one(owner_client, shop, people):
    response = owner_client.get(url("members", shop) + "?q=13800138002")
    assert sorted(listed(response)) == ["Alice", "Bob", "Carol", "Dan", "Eve"]


def test_an_unknown_or_expired_search_token_shows_the_whole_list_and_says_so(owner_client, shop, people):
    response = owner_client.get(url("members", shop) + "?f=nosuchtoken")
    assert response.status_code == 200
    assert len(listed(response)) == 5
    assert [str(m) for m in response.context["messages"]] == ["That search has expired. Please search again."]


def test_another_session_cannot_use_a_search_token(client, owner, shop, people):
    client.force_login(owner)
    location = client.post(url("members", shop), {"q": "13800138002"})["Location"]
    client.logout()
    client.force_login(owner)  # a new session
    assert len(listed(client.get(location))) == 5


def test_conditions_without_personal_data_travel_as_get_parameters(owner_client, shop, people):
    response = owner_client.post(url("members", shop), {"spend_min": "400", "genders": ["female"], "sort": "name"})
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query == {"spend_min": ["400"], "genders": ["female"], "sort": ["name"]}
    assert listed(owner_client.get(response["Location"])) == ["Alice"]


def test_a_bad_filter_shows_its_error_and_no_list(owner_client, shop, people):
    response = owner_client.get(url("members", shop) + "?spend_min=lots&orders_min=5&orders_max=2")
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"spend_min", "orders_max"}
    assert response.context["members"] == []
    posted = owner_client.post(url("members", shop), {"q": "x" * 65})
    assert posted.status_code == 200 and "q" in posted.context["form"].errors


# --- filters and sorts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Alice", "Bob", "Carol", "Dan", "Eve"]),
        ("spend_min=500", ["Alice", "Bob"]),
        ("spend_max=180", ["Carol", "Dan", "Eve"]),
        ("spend_12m_min=150", ["Bob", "Carol"]),
        ("spend_12m_min=150&spend_12m_max=200", ["Carol"]),
        ("orders_min=2", ["Alice", "Carol"]),
        ("orders_max=0", ["Dan", "Eve"]),
        ("orders_12m_min=3", ["Carol"]),
        ("last_order_within_days=30", ["Alice", "Carol"]),
        ("last_order_before_days=30", ["Bob", "Dan", "Eve"]),
        ("never_ordered=on", ["Dan", "Eve"]),
        ("birthday_month=3&birthday_month=7", ["Alice", "Bob"]),
        ("regions=广东", ["Alice", "Carol"]),
        ("regions=上海, 广东省 广州", ["Bob", "Carol"]),
        ("genders=female", ["Alice", "Carol"]),
        ("genders=unknown&genders=male", ["Bob", "Dan", "Eve"]),
        ("join_channels=qr", ["Carol", "Eve"]),
        ("consent=sms", ["Dan", "Eve"]),
        ("consent=sms&consent=email", ["Dan"]),
        ("statuses=frozen", ["Eve"]),
        ("statuses=active&consent=sms", ["Dan"]),
    ],
)
def test_each_filter_gives_exactly_its_members(owner_client, shop, people, query, expected):
    response = owner_client.get(url("members", shop) + "?" + query)
    assert sorted(listed(response)) == expected
    assert response.context["count"] == len(expected)


def test_tag_filters_give_exactly_their_members(owner_client, shop, people):
    vip = tag_create(shop=shop, actor=SYSTEM, name="VIP")
    new = tag_create(shop=shop, actor=SYSTEM, name="新客")
    tag_apply(shop=shop, tag=vip, actor=SYSTEM, definition={"spend_min": "500"})  # Alice, Bob
    tag_apply(shop=shop, tag=new, actor=SYSTEM, definition={"genders": ["male"]})  # Bob
    get = lambda q: sorted(listed(owner_client.get(url("members", shop) + "?" + q)))  # noqa: E731
    assert get(f"tags_any={vip.pk}") == ["Alice", "Bob"]
    assert get(f"tags_all={vip.pk}&tags_all={new.pk}") == ["Bob"]
    assert get(f"tags_none={vip.pk}") == ["Carol", "Dan", "Eve"]
    assert get(f"tags_any={new.pk}&tags_none={new.pk}") == []


def test_the_tier_filter_gives_the_holders_and_the_joining_tier_means_no_higher_one(owner_client, shop, people):
    from tiers.models import Tier

    base, silver = (Tier.objects.get(shop=shop, rank=rank) for rank in (0, 1))  # Bob spent 500 in 12 months
    get = lambda q: sorted(listed(owner_client.get(url("members", shop) + "?" + q)))  # noqa: E731
    assert get(f"tiers={silver.pk}") == ["Bob"]
    assert get(f"tiers={base.pk}") == ["Alice", "Carol", "Dan", "Eve"]
    assert get(f"tiers={base.pk}&tiers={silver.pk}") == ["Alice", "Bob", "Carol", "Dan", "Eve"]
    page = owner_client.get(url("members", shop)).content.decode()
    assert [name for _pk, name in owner_client.get(url("members", shop)).context["form"].fields["tiers"].choices] == [
        "普通会员",
        "高级会员",
        "VIP会员",
        "至尊VIP",
    ]
    assert "Holds one of these tiers" in page


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-joined_at", ["Eve", "Dan", "Carol", "Bob", "Alice"]),
        ("joined_at", ["Alice", "Bob", "Carol", "Dan", "Eve"]),
        ("-last_order_at", ["Alice", "Carol", "Bob", "Eve", "Dan"]),  # never ordered last, newest member first
        ("last_order_at", ["Bob", "Carol", "Alice", "Dan", "Eve"]),
        ("-lifetime_spend", ["Alice", "Bob", "Carol", "Eve", "Dan"]),
        ("-spend_12m", ["Bob", "Carol", "Alice", "Eve", "Dan"]),
        ("-order_count", ["Carol", "Alice", "Bob", "Eve", "Dan"]),
        ("name", ["Alice", "Bob", "Carol", "Dan", "Eve"]),
        ("nonsense", ["Eve", "Dan", "Carol", "Bob", "Alice"]),  # the default
    ],
)
def test_each_sort_gives_its_exact_order(owner_client, shop, people, sort, expected):
    assert listed(owner_client.get(url("members", shop) + f"?sort={sort}")) == expected


# --- keyset pagination -----------------------------------------------------------------------------------------


@pytest.fixture
def crowd(shop):
    """23 members with many ties on every sort key, and some who never bought."""
    members = []
    for i in range(23):
        member = enrol(shop, f"1390000{i:04d}", f"m{i % 7}")
        if i % 3:
            buy(shop, member, f"K{i}", f"{(i % 4) * 100}.00", days_ago=(i % 5) + 1)
        members.append(member)
    return members


def _walk(client, first_url, direction="next_url", limit=20) -> list[list[int]]:
    pages, target = [], first_url
    while target and len(pages) < limit:
        response = client.get(target)
        pages.append([m.pk for m in response.context["members"]])
        target = response.context[direction]
    return pages


@pytest.mark.parametrize("sort", list(member_views.SORTS))
def test_keyset_pages_walk_every_member_exactly_once_forwards_and_back(owner_client, shop, crowd, monkeypatch, sort):
    monkeypatch.setattr(member_views, "PAGE_SIZE", 5)
    everyone = [m.pk for m in member_page(shop=shop, definition={}, sort=sort, limit=1000).members]
    assert sorted(everyone) == sorted(m.pk for m in crowd)
    # forwards
    pages = _walk(owner_client, url("members", shop) + f"?sort={sort}")
    assert [pk for page in pages for pk in page] == everyone
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    # and back from the last page
    last = owner_client.get(url("members", shop) + f"?sort={sort}&after={pages[-2][-1]}")
    back = _walk(owner_client, last.context["prev_url"], direction="prev_url")
    assert back == pages[-2::-1]


def test_page_links_keep_the_filter_and_sort_and_the_count_stays(owner_client, shop, crowd, monkeypatch):
    monkeypatch.setattr(member_views, "PAGE_SIZE", 4)
    first = owner_client.get(url("members", shop) + "?orders_min=1&sort=-lifetime_spend")
    query = parse_qs(urlsplit(first.context["next_url"]).query)
    assert query["orders_min"] == ["1"] and query["sort"] == ["-lifetime_spend"] and "after" in query
    second = owner_client.get(first.context["next_url"])
    assert first.context["count"] == second.context["count"] == 15


def test_the_last_order_sort_puts_members_who_never_bought_last_in_both_directions(shop, crowd):
    for sort in ("-last_order_at", "last_order_at"):
        rows = member_page(shop=shop, definition={}, sort=sort, limit=1000).members
        never = [m.last_order_at is None for m in rows]
        assert never == sorted(never), sort  # all the Nones at the end


def test_a_foreign_or_missing_anchor_gives_the_first_page(owner_client, shop, other_shop, crowd, monkeypatch):
    monkeypatch.setattr(member_views, "PAGE_SIZE", 5)
    stranger = enrol(other_shop, "13700137000", "x")
    first = [m.pk for m in owner_client.get(url("members", shop)).context["members"]]
    for anchor in (f"after={stranger.pk}", "after=999999", "before=abc"):
        assert [m.pk for m in owner_client.get(url("members", shop) + "?" + anchor).context["members"]] == first


# --- phones ------------------------------------------------------------------------------------------------------


def test_phones_are_masked_for_everyone_until_revealed(owner_client, shop, people):
    for page in (url("members", shop), url("member", shop, people.b.pk)):
        html = owner_client.get(page).content.decode()
        assert "138****8002" in html
        assert "13800138002" not in html and "138 0013 8002" not in html


def test_revealing_a_number_shows_it_once_and_writes_an_audit_entry(owner_client, owner, shop, people):
    # with JavaScript: the number comes back as JSON, never cached
    response = owner_client.post(url("member_phone", shop, people.b.pk), HTTP_ACCEPT="application/json")
    assert response.json() == {"phone": "138 0013 8002"}
    assert response["Cache-Control"] == "no-store"
    assert audit(shop, "member.phone_view") == [(str(people.b.pk), owner.email)]
    # without: a redirect back, and the next page shows that one number, once
    back = owner_client.post(url("member_phone", shop, people.b.pk), {"next": url("members", shop)})
    assert back["Location"] == url("members", shop)
    html = owner_client.get(back["Location"]).content.decode()
    assert "138 0013 8002" in html and "138****8001" in html
    assert "138 0013 8002" not in owner_client.get(url("members", shop)).content.decode()
    assert len(audit(shop, "member.phone_view")) == 2


def test_a_reveal_never_redirects_off_site(owner_client, shop, people):
    response = owner_client.post(url("member_phone", shop, people.b.pk), {"next": "https://evil.example/"})
    assert response["Location"] == url("member", shop, people.b.pk)


@pytest.mark.parametrize("role", [Role.ANALYST, Role.CLERK])
def test_roles_without_the_right_never_see_a_full_number(client, shop, people, role):
    staff_client(client, shop, role)
    for page in (url("members", shop), url("member", shop, people.b.pk)):
        html = client.get(page).content.decode()
        assert "138****8002" in html and "13800138002" not in html
        assert url("member_phone", shop, people.b.pk) not in html  # no "show" control
    response = client.post(url("member_phone", shop, people.b.pk), HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert audit(shop, "member.phone_view") == []


def test_no_page_puts_a_phone_number_in_a_url(owner_client, shop, people):
    phones = [m.phone for m in (people.a, people.b, people.c, people.d, people.e)]
    searched = owner_client.post(url("members", shop), {"q": "138 0013 8003"}, follow=True)
    pages = [searched]
    pages += [owner_client.get(url(n, shop)) for n in ("members", "member_tags", "segments", "orders")]
    pages += [owner_client.get(url("member", shop, m.pk)) for m in (people.a, people.b, people.c)]
    pages += [owner_client.get(url("member_edit", shop, people.c.pk))]
    assert_no_phone_in_links("".join(f'href="{target}"' for target, _status in searched.redirect_chain), *phones)
    for response in pages:
        assert response.status_code == 200
        assert_no_phone_in_links(response.content.decode(), *phones)


# --- the profile -----------------------------------------------------------------------------------------------


@pytest.fixture
def _orders_alone_provide_member_data():
    """Orders is the one provider of member data (points and tiers add their events: tests/points, tests/tiers)."""
    with registry.overridden(MEMBER_DATA, [Registration(order_member_data, app="orders")]):
        yield


@pytest.mark.usefixtures("_orders_alone_provide_member_data")
def test_the_profile_shows_figures_tags_consents_and_one_timeline(owner_client, shop, people):
    member = people.c
    refund_record(
        shop=shop,
        order=member.orders.get(external_id="C3"),
        data=RefundInput(external_id="R-C3", amount=Decimal("20.00")),
    )
    tag = tag_create(shop=shop, actor=SYSTEM, name="常客")
    tag_apply(shop=shop, tag=tag, actor=SYSTEM, definition={"q": member.phone})
    member_update(shop=shop, member=member, consents={"push": True}, source="portal")
    # when
    response = owner_client.get(url("member", shop, member.pk))
    # then
    html = response.content.decode()
    member.refresh_from_db()
    assert member.lifetime_spend == Decimal("160.00") and member.order_count == 3
    assert "160.00" in html and "常客" in html
    assert [(e.kind, e.title) for e in response.context["timeline"]] == [
        ("consent", "Push marketing allowed"),
        ("refund", "Refund on order C3"),
        ("joined", "Joined"),  # the orders were paid before: history sent after joining
        ("order", "Order C3"),
        ("order", "Order C2"),
        ("order", "Order C1"),
    ]
    assert url("order", shop, member.orders.get(external_id="C3").pk) in html
    assert [(c.channel, c.granted, c.source) for c in response.context["consent_history"]] == [("push", True, "portal")]


@pytest.fixture
def _this_module_provides_member_data():
    """Orders and this module (its timeline() and export()) are the providers of member data."""
    providers = [Registration(order_member_data, app="orders"), Registration(sys.modules[__name__], app="tests")]
    with registry.overridden(MEMBER_DATA, providers):
        yield


@pytest.mark.usefixtures("_this_module_provides_member_data")
def test_the_timeline_and_export_take_data_from_every_registered_provider(owner_client, shop, people):
    response = owner_client.get(url("member", shop, people.b.pk))
    assert [e.kind for e in response.context["timeline"]] == ["joined", "points", "order"]
    assert "Earned 500 points" in response.content.decode()
    data = json.loads(owner_client.post(url("member_export", shop, people.b.pk)).content)
    assert data["points"] == {"balance": 500} and [o["external_id"] for o in data["orders"]] == ["B1"]
    # the cached balances: B1 (¥500.00) earned 500 points and 500 growth value
    assert {k: data["member"][k] for k in ("points_balance", "points_pending", "growth_value")} == {
        "points_balance": 500,
        "points_pending": 0,
        "growth_value": 500,
    }


def test_an_erased_member_keeps_a_page_without_actions(owner_client, shop, people):
    from members.services import member_erase

    member_erase(shop=shop, member=people.a, actor=SYSTEM)
    response = owner_client.get(url("member", shop, people.a.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert url("member_edit", shop, people.a.pk) not in html and url("member_freeze", shop, people.a.pk) not in html
    assert owner_client.get(url("member_edit", shop, people.a.pk)).status_code == 404


# --- edit, freeze, erase, export -------------------------------------------------------------------------------

EDIT = {
    "name": "Bobby",
    "gender": "male",
    "birthday_month": "2",
    "birthday_day": "29",
    "birth_year": "",
    "region": "上海市 浦东",
    "email": "bob@example.com",
    "external_id": "tb-bob",
    "wechat_openid": "",
    "consent_sms": "on",
}


def test_editing_a_profile_saves_records_consent_and_audits(owner_client, owner, shop, people):
    response = owner_client.post(url("member_edit", shop, people.b.pk), EDIT)
    assert response.status_code == 302 and response["Location"] == url("member", shop, people.b.pk)
    member = Member.objects.get(pk=people.b.pk)
    assert (member.name, member.birthday_month, member.birthday_day, member.region, member.email) == (
        "Bobby",
        2,
        29,
        "上海市 浦东",
        "bob@example.com",
    )
    assert (member.external_id, member.consent_sms, member.consent_email) == ("tb-bob", True, False)
    assert list(ConsentChange.objects.filter(member=member).values_list("channel", "granted", "source")) == [
        ("sms", True, "dashboard")
    ]
    entry = AuditLogEntry.objects.get(shop=shop, action="member.update")
    assert entry.actor_label == owner.email and entry.changes["name"] == ["Bob", "Bobby"]
    assert [str(m) for m in owner_client.get(response["Location"]).context["messages"]] == ["Profile saved."]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"birthday_month": "2", "birthday_day": "30"}, "birthday_day"),
        ({"birthday_month": "", "birthday_day": "3"}, "birthday_day"),
        ({"birthday_month": "", "birthday_day": "", "birth_year": "1990"}, "birthday_month"),
        ({"birth_year": "2999"}, "birth_year"),
        ({"email": "not-an-email"}, "email"),
        ({"gender": "robot"}, "gender"),
        ({"external_id": "tb-dan"}, "external_id"),  # Dan's: the service refuses, shown on the field
        ({"name": "Bob\x07"}, "name"),  # control and text-direction characters (shops.text)
        ({"name": "\u202ebobB"}, "name"),
        ({"region": "上海\x1b[31m"}, "region"),
        ({"name": "Bob\tJr"}, "name"),  # a one-line field has no tabs
    ],
)
def test_a_refused_edit_shows_the_error_on_its_field_and_changes_nothing(owner_client, shop, people, change, field):
    before = model_to_dict(Member.objects.get(pk=people.b.pk))
    response = owner_client.post(url("member_edit", shop, people.b.pk), {**EDIT, **change})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert model_to_dict(Member.objects.get(pk=people.b.pk)) == before
    assert audit(shop, "member.update") == [] and not ConsentChange.objects.filter(member=people.b).exists()


def test_freeze_and_unfreeze_are_audited(owner_client, shop, people):
    owner_client.post(url("member_freeze", shop, people.b.pk), {"frozen": "1"})
    assert Member.objects.get(pk=people.b.pk).status == MemberStatus.FROZEN
    owner_client.post(url("member_freeze", shop, people.b.pk), {"frozen": "0"})
    assert Member.objects.get(pk=people.b.pk).status == MemberStatus.ACTIVE
    entries = AuditLogEntry.objects.filter(shop=shop, object_type="member", object_id=str(people.b.pk))
    assert list(entries.values_list("action", flat=True)) == ["member.unfreeze", "member.freeze"]


def test_an_analyst_cannot_edit_or_freeze(client, shop, people):
    staff_client(client, shop, Role.ANALYST)
    before = model_to_dict(Member.objects.get(pk=people.b.pk))
    assert client.post(url("member_edit", shop, people.b.pk), EDIT).status_code == 403
    assert client.post(url("member_freeze", shop, people.b.pk), {"frozen": "1"}).status_code == 403
    assert model_to_dict(Member.objects.get(pk=people.b.pk)) == before


def test_erasure_asks_first_says_what_happens_then_erases(owner_client, shop, people):
    page = owner_client.get(url("member_erase", shop, people.d.pk)).content.decode()
    assert "cannot be undone" in page and "Kept" in page
    # a POST without the confirmation changes nothing
    assert owner_client.post(url("member_erase", shop, people.d.pk))["Location"] == url(
        "member_erase", shop, people.d.pk
    )
    assert Member.objects.get(pk=people.d.pk).status == MemberStatus.ACTIVE
    # confirmed
    response = owner_client.post(url("member_erase", shop, people.d.pk), {"confirm": "erase"})
    assert response["Location"] == url("member", shop, people.d.pk)
    member = Member.objects.get(pk=people.d.pk)
    assert (member.status, member.phone, member.name, member.consent_sms) == (MemberStatus.ERASED, "", "", False)
    assert len(audit(shop, "member.erase")) == 1


def test_a_marketer_may_edit_but_not_erase_or_export(client, shop, people):
    staff_client(client, shop, Role.MARKETER)
    assert client.post(url("member_erase", shop, people.d.pk), {"confirm": "erase"}).status_code == 403
    assert client.post(url("member_export", shop, people.d.pk)).status_code == 403
    assert Member.objects.get(pk=people.d.pk).status == MemberStatus.ACTIVE
    assert audit(shop, "member.data_export") == []


def test_the_privacy_export_is_a_json_download_of_everything_and_is_audited(owner_client, owner, shop, people):
    buy(shop, people.b, "B2", "20.00", items=[ItemInput(sku="S1", quantity=2, unit_price=Decimal("10.00"), name="茶")])
    refund_record(shop=shop, order=people.b.orders.get(external_id="B2"), data=RefundInput("R-B2", Decimal("5.00")))
    member_update(shop=shop, member=people.b, consents={"email": True}, source="portal")
    response = owner_client.post(url("member_export", shop, people.b.pk))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="member-{people.b.pk}.json"'
    data = json.loads(response.content)
    assert data["member"]["phone"] == "+8613800138002" and data["member"]["name"] == "Bob"
    assert data["member"]["consents"] == {"sms": False, "push": False, "email": True}
    assert [(c["channel"], c["granted"]) for c in data["consent_changes"]] == [("email", True)]
    assert sorted(o["external_id"] for o in data["orders"]) == ["B1", "B2"]
    b2 = next(o for o in data["orders"] if o["external_id"] == "B2")
    assert b2["items"] == [{"sku": "S1", "name": "茶", "category": "", "quantity": 2, "unit_price": "10.00"}]
    assert data["refunds"][0]["external_id"] == "R-B2" and data["refunds"][0]["amount"] == "5.00"
    assert audit(shop, "member.data_export") == [(str(people.b.pk), owner.email)]


# --- tags --------------------------------------------------------------------------------------------------------


def test_bulk_tag_adds_then_removes_a_manual_tag_on_the_whole_filtered_list(owner_client, shop, people):
    tag = tag_create(shop=shop, actor=SYSTEM, name="夏季")
    listing = owner_client.get(url("members", shop) + "?genders=female")
    form = listing.context["bulk_form"]
    # when: tag everyone in the list
    response = owner_client.post(
        url("member_bulk_tag", shop), {"tag": tag.pk, "action": "add", "filter": form.initial["filter"]}
    )
    # then
    assert response["Location"] == url("members", shop) + "?genders=female"
    tagged = set(MemberTag.objects.filter(tag=tag).values_list("member_id", flat=True))
    assert tagged == {people.a.pk, people.c.pk}
    assert Tag.objects.get(pk=tag.pk).member_count == 2
    # and a search list (kept in the session) works the same way
    searched = owner_client.post(url("members", shop), {"q": "Alice"})["Location"]
    owner_client.post(
        url("member_bulk_tag", shop), {"tag": tag.pk, "action": "remove", "filter": urlsplit(searched).query}
    )
    assert set(MemberTag.objects.filter(tag=tag).values_list("member_id", flat=True)) == {people.c.pk}
    assert [a for (a,) in AuditLogEntry.objects.filter(shop=shop, object_type="tag").values_list("action")] == [
        "tag.remove",
        "tag.add",
        "tag.create",
    ]


def test_bulk_tag_refuses_rule_tags_expired_lists_and_roles_without_the_right(client, owner, shop, people):
    rule = tag_create(shop=shop, actor=SYSTEM, name="大客户", rule={"spend_min": "1000"})
    manual = tag_create(shop=shop, actor=SYSTEM, name="手动")
    client.force_login(owner)
    client.post(url("member_bulk_tag", shop), {"tag": rule.pk, "action": "add", "filter": ""})
    client.post(url("member_bulk_tag", shop), {"tag": manual.pk, "action": "add", "filter": "f=gone"})
    assert not MemberTag.objects.exists()
    staff_client(client, shop, Role.ANALYST)
    assert client.post(url("member_bulk_tag", shop), {"tag": manual.pk, "action": "add"}).status_code == 403
    assert not MemberTag.objects.exists()


def test_a_manual_tag_is_added_and_removed_on_the_profile(owner_client, shop, people):
    tag = tag_create(shop=shop, actor=SYSTEM, name="回头客")
    owner_client.post(url("member_tag_add", shop, people.e.pk), {"tag": tag.pk})  # Eve is frozen: still taggable
    assert list(MemberTag.objects.filter(tag=tag).values_list("member_id", flat=True)) == [people.e.pk]
    owner_client.post(url("member_tag_remove", shop, people.e.pk, tag.pk))
    assert not MemberTag.objects.filter(tag=tag).exists()


def test_tagging_one_member_tags_that_member_only(owner_client, shop, people):
    # a member whose name holds Alice's phone number: a search for the number would find both
    namesake = enrol(shop, "13900139000", "+8613800138001")
    tag = tag_create(shop=shop, actor=SYSTEM, name="回头客")
    owner_client.post(url("member_tag_add", shop, people.a.pk), {"tag": tag.pk})
    assert list(MemberTag.objects.filter(tag=tag).values_list("member_id", flat=True)) == [people.a.pk]
    member_tag_change(shop=shop, tag=tag, member=namesake, actor=SYSTEM)
    owner_client.post(url("member_tag_remove", shop, people.a.pk, tag.pk))
    assert list(MemberTag.objects.filter(tag=tag).values_list("member_id", flat=True)) == [namesake.pk]


def test_the_tags_page_lists_counts_and_creates_manual_and_rule_tags(owner_client, shop, people):
    response = owner_client.post(url("member_tags", shop), {"name": "  门店 "})
    assert response.status_code == 302
    assert Tag.objects.get(shop=shop, name="门店").kind == TagKind.MANUAL
    # a duplicate name is refused on the form
    again = owner_client.post(url("member_tags", shop), {"name": "门店"})
    assert again.status_code == 200 and again.context["form"].non_field_errors()
    assert Tag.objects.filter(shop=shop, name="门店").count() == 1
    # a rule tag from the filter form fills at once (tasks run eagerly in tests)
    owner_client.post(url("member_rule_tag_create", shop), {"name": "广东", "regions": "广东"})
    rule = Tag.objects.get(shop=shop, name="广东")
    assert (rule.kind, rule.rule, rule.member_count) == (TagKind.RULE, {"regions": ["广东"]}, 2)
    page = owner_client.get(url("member_tags", shop))
    assert {(t.name, t.member_count) for t in page.context["tags"]} == {("广东", 2), ("门店", 0)}
    assert f'?tags_any={rule.pk}"' in page.content.decode()


@pytest.mark.parametrize("name", ["门\x07店", "\u202e店门", "门店\u2069"])
def test_a_tag_name_with_a_control_or_text_direction_character_is_refused_on_the_form(owner_client, shop, name):
    manual = owner_client.post(url("member_tags", shop), {"name": name})
    rule = owner_client.post(url("member_rule_tag_create", shop), {"name": "广东", "regions": f"广东,{name}"})

    assert list(manual.context["form"].errors) == ["name"]
    assert list(rule.context["form"].errors) == ["regions"]
    assert not Tag.objects.filter(shop=shop).exists()


def test_refresh_now_brings_rule_tags_up_to_date(owner_client, shop, people):
    rule = tag_create(shop=shop, actor=SYSTEM, name="女", rule={"genders": ["female"]})
    assert Tag.objects.get(pk=rule.pk).member_count == 0
    response = owner_client.post(url("member_tags_refresh", shop))
    assert response["Location"] == url("member_tags", shop)
    assert Tag.objects.get(pk=rule.pk).member_count == 2


def test_an_analyst_reads_the_tags_page_but_cannot_change_tags(client, shop, people):
    staff_client(client, shop, Role.ANALYST)
    assert client.get(url("member_tags", shop)).status_code == 200
    assert client.post(url("member_tags", shop), {"name": "x"}).status_code == 403
    assert client.post(url("member_tags_refresh", shop)).status_code == 403
    assert client.post(url("member_rule_tag_create", shop), {"name": "y"}).status_code == 403
    assert not Tag.objects.exists()


# --- segments ----------------------------------------------------------------------------------------------------


def test_segments_are_created_listed_edited_and_deleted(owner_client, shop, people):
    response = owner_client.post(url("segment_create", shop), {"name": "高消费", "spend_min": "400", "orders_min": ""})
    assert response["Location"] == url("segments", shop)
    segment = Segment.objects.get(shop=shop)
    assert (segment.name, segment.definition, segment.last_count) == ("高消费", {"spend_min": "400"}, 2)
    listing = owner_client.get(url("segments", shop))
    assert [s.name for s in listing.context["segments"]] == ["高消费"]
    # "show members" opens the list with those conditions
    members_page = owner_client.get(listing.context["segments"][0].members_url)
    assert sorted(listed(members_page)) == ["Alice", "Bob"]
    # the edit page shows the saved conditions; saving recounts
    edit = owner_client.get(url("segment_edit", shop, segment.pk))
    assert (edit.context["form"]["name"].value(), edit.context["form"]["spend_min"].value()) == ("高消费", "400")
    owner_client.post(url("segment_edit", shop, segment.pk), {"name": "高消费", "spend_min": "400", "consent": ["sms"]})
    segment.refresh_from_db()
    assert (segment.definition, segment.last_count) == ({"spend_min": "400", "consent": ["sms"]}, 0)
    owner_client.post(url("segment_delete", shop, segment.pk))
    assert not Segment.objects.exists()
    assert [a for (a,) in AuditLogEntry.objects.filter(shop=shop, object_type="segment").values_list("action")] == [
        "segment.delete",
        "segment.save",
        "segment.save",
    ]


def test_the_count_preview_answers_the_count_or_a_clear_error(client, shop, people):
    staff_client(client, shop, Role.ANALYST)  # reading is enough to count
    count_url = url("segment_count", shop)
    ok = client.post(count_url, {"spend_min": "400", "name": "ignored"})
    assert ok.status_code == 200 and ok.json() == {"count": 2, "text": "2 members match."}
    bad_field = client.post(count_url, {"spend_min": "lots"})
    assert bad_field.status_code == 400 and "Spend from" in bad_field.json()["error"]
    bad_definition = client.post(count_url, {"definition": {"genders": ["robot"]}}, content_type="application/json")
    assert bad_definition.status_code == 400 and bad_definition.json() == {"error": "Unknown genders: robot"}
    for body in ("{not json", "[]", json.dumps({"definition": "x"})):
        response = client.post(count_url, body, content_type="application/json")
        assert response.status_code == 400 and response.json()["error"], body
    good_json = client.post(count_url, {"definition": {"genders": ["female"]}}, content_type="application/json")
    assert good_json.json()["count"] == 2
    for amount in ("NaN", "Infinity", "-inf"):  # they parse as decimals but compare with nothing
        body = {"definition": {"spend_min": amount}}
        response = client.post(count_url, body, content_type="application/json")
        assert response.status_code == 400 and response.json() == {"error": "spend_min must be an amount."}, amount


def test_a_segment_with_a_bad_or_taken_name_is_refused_and_nothing_is_stored(owner_client, shop, people):
    segment_save(shop=shop, actor=SYSTEM, name="已有", definition={})
    taken = owner_client.post(url("segment_create", shop), {"name": "已有"})
    assert taken.status_code == 200 and taken.context["form"].non_field_errors()
    blank = owner_client.post(url("segment_create", shop), {"name": "", "spend_min": "-1"})
    assert set(blank.context["form"].errors) == {"name", "spend_min"}
    assert Segment.objects.count() == 1


def test_an_analyst_cannot_create_change_or_delete_segments(client, shop, people):
    segment = segment_save(shop=shop, actor=SYSTEM, name="s", definition={})
    staff_client(client, shop, Role.ANALYST)
    assert client.post(url("segment_create", shop), {"name": "t"}).status_code == 403
    assert client.post(url("segment_edit", shop, segment.pk), {"name": "u"}).status_code == 403
    assert client.post(url("segment_delete", shop, segment.pk)).status_code == 403
    assert list(Segment.objects.values_list("name", flat=True)) == ["s"]


# --- layering ----------------------------------------------------------------------------------------------------


def test_members_never_imports_the_apps_above_it():
    higher = ("orders", "tiers", "points", "coupons", "campaigns", "analytics", "automations", "portal")
    root = Path(__file__).resolve().parents[2] / "members"
    offences = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offences += [f"{path.name}: {n}" for n in names if n.split(".")[0] in higher]
    assert offences == []


def test_timeline_events_are_plain_values():
    event = TimelineEvent(at=NOW, kind="order", title="t")
    assert (event.detail, event.url) == ("", "")


def test_the_list_offers_its_csv_export_with_the_same_filter_to_roles_that_may_export(client, owner, shop, people):
    client.force_login(owner)
    searched = client.get(client.post(url("members", shop), {"q": "Ali", "sort": "name"})["Location"])
    link = re.search(r'href="([^"]+)" data-testid="members-export"', searched.content.decode()).group(1)
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query == {"f": [parse_qs(urlsplit(searched.wsgi_request.get_full_path()).query)["f"][0]], "sort": ["name"]}
    staff_client(client, shop, Role.MARKETER)
    assert 'data-testid="members-export"' not in client.get(url("members", shop)).content.decode()
