from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import TemplateView

from . import apis, views

account_patterns = [
    path("signup/", views.SignUpView.as_view(), name="signup"),
    path("signup/done/", TemplateView.as_view(template_name="shops/signup_done.html"), name="signup_done"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("invitations/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"),
]

# Under /dashboard/<shop_slug>/, in the "dashboard" namespace.
dashboard_patterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("settings/", views.ShopSettingsView.as_view(), name="settings"),
    path("staff/", views.StaffView.as_view(), name="staff"),
    path("staff/<int:pk>/role/", views.StaffRoleChangeView.as_view(), name="staff_role"),
    path("staff/<int:pk>/remove/", views.StaffRemoveView.as_view(), name="staff_remove"),
    path("staff/invitations/<int:pk>/cancel/", views.InvitationCancelView.as_view(), name="invitation_cancel"),
    path("api-keys/", views.ApiKeysView.as_view(), name="api_keys"),
    path("api-keys/<int:pk>/revoke/", views.ApiKeyRevokeView.as_view(), name="api_key_revoke"),
    path("audit/", views.AuditLogView.as_view(), name="audit"),
]

# Under /api/v1/, in the "api" namespace.
api_patterns = [
    path("shop/", apis.ShopDetailApi.as_view(), name="shop"),
]
