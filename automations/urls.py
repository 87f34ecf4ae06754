from django.urls import path

from . import apis, views

# Under /api/v1/, in the "api" namespace.
api_patterns = [
    path("automations/", apis.AutomationListApi.as_view(), name="automations"),
]

# Under /dashboard/<shop_slug>/automations/, in the "dashboard" namespace.
dashboard_patterns = [
    path("", views.AutomationListView.as_view(), name="automations"),
    path("survey/", views.SurveyAnswersView.as_view(), name="survey_answers"),
    path("survey/<int:pk>/review/", views.SurveyReviewView.as_view(), name="survey_answer_review"),
    path("<int:pk>/", views.AutomationDetailView.as_view(), name="automation"),
    path("<int:pk>/edit/", views.AutomationEditView.as_view(), name="automation_edit"),
    path("<int:pk>/switch/", views.AutomationSwitchView.as_view(), name="automation_switch"),
]
