from django.contrib import admin

from accounts.models import ApiToken

admin.site.register(ApiToken, list_display=["user", "created_at"])
