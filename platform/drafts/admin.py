from django.contrib import admin

from drafts.models import Draft, Preference

admin.site.register(Draft)
admin.site.register(Preference)
