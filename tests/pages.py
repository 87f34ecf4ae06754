"""Helpers of the dashboard view tests: URLs, a client signed in with a role, and what a page says."""

import re

from django.urls import reverse

from shops.roles import Role

from .factories import add_staff


def url(name, shop, *args):
    return reverse(f"dashboard:{name}", args=[shop.slug, *args])


def staff_client(client, shop, role):
    user = shop.staffmembership_set.get(role=Role.OWNER).user if role == Role.OWNER else add_staff(shop, role)
    client.force_login(user)
    return client


def text(response) -> str:
    """The page's visible text, tags removed and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())).strip()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]
