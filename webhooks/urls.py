from django.urls import path

from . import apis, views

# Under /api/v1/, in the "api" namespace.
api_patterns = [
    path("webhooks/", apis.WebhookListCreateApi.as_view(), name="webhooks"),
    path("webhooks/<int:pk>/", apis.WebhookDetailApi.as_view(), name="webhook"),
    path("webhooks/<int:pk>/rotate/", apis.WebhookRotateApi.as_view(), name="webhook_rotate"),
    path("webhooks/<int:pk>/deliveries/", apis.WebhookDeliveriesApi.as_view(), name="webhook_deliveries"),
    path("events/", apis.EventsApi.as_view(), name="events"),
]

# Under /dashboard/<shop_slug>/webhooks/, in the "dashboard" namespace.
dashboard_patterns = [
    path("", views.EndpointListView.as_view(), name="webhooks"),
    path("<int:pk>/", views.EndpointDetailView.as_view(), name="webhook"),
    path("<int:pk>/action/", views.EndpointActionView.as_view(), name="webhook_action"),
    path("<int:pk>/replay/", views.EndpointReplayView.as_view(), name="webhook_replay"),
    path("<int:pk>/deliveries/<int:delivery>/retry/", views.DeliveryRetryView.as_view(), name="webhook_retry"),
]
