from django.contrib import admin

from accounts.models import ApiToken, JoinLink

admin.site.register(ApiToken, list_display=["user", "created_at"])
admin.site.register(JoinLink, list_display=["course", "signup_open", "updated_at"])
