"""LTI rows in Django's admin: registrations, and which course an LMS course maps to (change
`Context.course` to send a context's launches elsewhere). The tool's private key is not
registered here: nothing shows it."""

from __future__ import annotations

from django.contrib import admin

from lti.models import Context, Identity, LineItem, Passback, Platform


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ("name", "issuer", "client_id", "course")


@admin.register(Context)
class ContextAdmin(admin.ModelAdmin):
    list_display = ("platform", "context_id", "title", "course")
    list_editable = ("course",)
    readonly_fields = ("platform", "context_id")


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("platform", "sub", "user", "created_at")
    readonly_fields = ("platform", "sub", "user")


@admin.register(LineItem)
class LineItemAdmin(admin.ModelAdmin):
    list_display = ("context", "resource_link_id", "lesson", "exercise", "url")


@admin.register(Passback)
class PassbackAdmin(admin.ModelAdmin):
    list_display = ("user", "line_item", "status", "attempts", "score_given", "updated_at")
    list_filter = ("status",)
    readonly_fields = ("line_item", "user", "sub", "attempts", "last_error", "score_given",
                       "score_maximum", "sent_at")
