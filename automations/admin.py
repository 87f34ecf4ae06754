"""The operations admin: automations and their steps, journeys and survey answers, read-only but for switching."""

from django.contrib import admin

from .models import Automation, Journey, Step, SurveyAnswer


class StepInline(admin.TabularInline):
    model = Step
    extra = 0
    fields = ("position", "kind", "wait_days", "wait_hour", "campaign", "coupon_template", "points")
    readonly_fields = fields
    can_delete = False


@admin.register(Automation)
class AutomationAdmin(admin.ModelAdmin):
    list_display = ("name", "shop", "trigger", "enabled", "reentry", "holdout_percent")
    list_filter = ("trigger", "enabled")
    search_fields = ("name", "shop__name")
    readonly_fields = ("shop", "key", "trigger", "created_at", "updated_at")
    inlines = [StepInline]


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    list_display = ("automation", "member", "occurrence", "status", "position", "due_at", "entered_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in Journey._meta.fields]
    raw_id_fields = ("member",)


@admin.register(SurveyAnswer)
class SurveyAnswerAdmin(admin.ModelAdmin):
    list_display = ("order", "member", "score", "answered_at", "reviewed_at")
    list_filter = ("score",)
    readonly_fields = [f.name for f in SurveyAnswer._meta.fields]
