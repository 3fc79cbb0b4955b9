from django.contrib import admin

from dashboard.models import Course, Membership, Override, Regrade

admin.site.register(Course)
admin.site.register(Override)
admin.site.register(Regrade)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("course", "user", "role")
    list_filter = ("course", "role")
