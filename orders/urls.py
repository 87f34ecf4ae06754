from django.urls import path

from . import apis, views

api_patterns = [
    path("orders/", apis.OrderCreateApi.as_view(), name="orders"),
    path("orders/bulk/", apis.OrderBulkApi.as_view(), name="orders_bulk"),
    path("orders/<str:external_id>/", apis.OrderDetailApi.as_view(), name="order"),
    path("orders/<str:external_id>/refunds/", apis.RefundCreateApi.as_view(), name="order_refunds"),
]

# Under /dashboard/<shop_slug>/orders/, in the "dashboard" namespace.
dashboard_patterns = [
    path("", views.OrderListView.as_view(), name="orders"),
    path("<int:pk>/", views.OrderDetailView.as_view(), name="order"),
]
