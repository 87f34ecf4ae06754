"""Every existing shop gets the usual automations, switched off (automations.defaults)."""

from django.db import migrations


def install(apps, schema_editor):
    from automations.defaults import defaults_install

    Shop = apps.get_model("shops", "Shop")
    models = {name: apps.get_model(app, name) for app, name in (("automations", "Automation"),
              ("automations", "Step"), ("campaigns", "Campaign"))}  # fmt: skip
    for shop in Shop.objects.all():
        defaults_install(shop=shop, **models)


class Migration(migrations.Migration):
    dependencies = [("automations", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
