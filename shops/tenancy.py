"""Shop scoping: the one place that turns a shop into an active django-scopes scope.

Every interface resolves its shop once (dashboard: staff membership; API: key; task: `shop_id`) and runs inside
`shop_scope(shop)`. Shop-owned managers raise outside a scope, so a forgotten filter fails loudly.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django_scopes import scope, scopes_disabled
from django_scopes.state import state

from .models import Shop


@contextmanager
def shop_scope(shop: Shop) -> Iterator[Shop]:
    with scope(shop=shop):
        yield shop


@contextmanager
def task_shop_scope(shop_id: int) -> Iterator[Shop]:
    """For Celery tasks, which receive ids: fetch the shop and scope to it. Raises Shop.DoesNotExist."""
    shop = Shop.objects.get(pk=shop_id)
    with shop_scope(shop):
        yield shop


@contextmanager
def no_shop_scope() -> Iterator[None]:
    """Run with no scope at all, then give the caller's back. Each request and each task starts here, so nothing a
    previous one on the same thread left active (a scope entered and never left) can carry over to the next."""
    token = state.set(None)
    try:
        yield
    finally:
        state.reset(token)


# The named escape for the few cross-shop jobs (resolution of a key or a login, ops admin, system rollups).
# Every use says why in a comment.
all_shops = scopes_disabled
