from django.urls import path

from . import apis

api_patterns = [
    path("orders/", apis.OrderCreateApi.as_view(), name="orders"),
    path("orders/bulk/", apis.OrderBulkApi.as_view(), name="orders_bulk"),
    path("orders/<str:external_id>/", apis.OrderDetailApi.as_view(), name="order"),
    path("orders/<str:external_id>/refunds/", apis.RefundCreateApi.as_view(), name="order_refunds"),
]
