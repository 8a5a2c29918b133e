"""Plugins ship their channels' templates; a deployment's own and dunning's built-in ones come first."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

from dunning.core.content.lint import sample_case
from dunning.core.content.templating import render_context
from dunning.core.hookspecs import hookimpl
from dunning.core.plugins import make_registry


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def plugin_with(source: object) -> object:
    class Templates:
        @hookimpl
        def dunning_register_templates(self, register):
            register(source)

    return Templates()


def test_given_a_plugin_registers_a_directory_then_its_channels_templates_render(tmp_path):
    write(tmp_path, "fax/overdue_notice.en.j2", "Fax for {{ name }}")
    write(tmp_path, "fax/overdue_notice.zh-CN.j2", "传真 {{ name }}")
    library = make_registry(extra=[plugin_with(tmp_path)]).templates()
    assert library.exists("fax", "overdue_notice", "zh-CN")
    assert library.locales("fax", "overdue_notice") == ["en", "zh-CN"]
    assert library.render("fax", "overdue_notice", "zh-CN", {"name": "张伟"}).body == "传真 张伟"
    # And a locale it lacks falls back to English, as for the built-in templates
    assert library.render("fax", "overdue_notice", "fr", {"name": "Alex"}).body == "Fax for Alex"


def test_a_plugin_cannot_replace_a_built_in_template_but_the_deployment_can(tmp_path):
    plugin_dir, own_dir = tmp_path / "plugin", tmp_path / "own"
    write(plugin_dir, "sms/overdue_notice.en.j2", "hijacked")
    write(own_dir, "sms/overdue_notice.en.j2", "our own words, {{ name }}")
    registry = make_registry(extra=[plugin_with(plugin_dir)])
    case = sample_case("en")
    context = render_context(case, amount=case.amount_due, now=datetime(2026, 12, 1, tzinfo=UTC))
    # The built-in template wins over the plugin's
    assert "hijacked" not in registry.templates().render("sms", "overdue_notice", "en", context).body
    # And the deployment's own directory wins over both
    own = registry.templates([own_dir]).render("sms", "overdue_notice", "en", context).body
    assert own == f"our own words, {case.name}"


def test_templates_inside_a_zipped_package_are_found(tmp_path):
    # Given a plugin installed as a zip (the resource is a zipfile.Path, not a directory on disk)
    archive = tmp_path / "plugin.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("fax_plugin/templates/fax/overdue_notice.en.j2", "Zipped {{ name }}")
    source = zipfile.Path(archive, "fax_plugin/templates/")
    library = make_registry(extra=[plugin_with(source)]).templates()
    assert library.render("fax", "overdue_notice", "en", {"name": "Alex"}).body == "Zipped Alex"


def test_a_template_path_cannot_climb_out_of_the_plugins_source(tmp_path):
    write(tmp_path, "secret.j2", "nope")
    write(tmp_path, "templates/fax/x.en.j2", "x")
    library = make_registry(extra=[plugin_with(tmp_path / "templates")]).templates()
    assert not library.exists("fax/..", "../secret", "en")
