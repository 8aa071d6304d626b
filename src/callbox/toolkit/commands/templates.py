"""``callbox new`` (alias ``template``) and ``callbox list-templates``: templates shipped with
callbox, copied into a project (the rules live in ``toolkit/templating.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from callbox.toolkit import rcfile, templating
from callbox.toolkit.errors import RcError, TemplateError
from callbox.toolkit.options import BaseFlags, base_options, output_option
from callbox.toolkit.printer import Printer
from callbox.toolkit.project import LANGUAGE_NAMES, Language
from callbox.toolkit.session import configure, env_file


def _namespace(raw: str) -> str:
    # Raised as UsageError, click.prompt shows the message and asks again.
    try:
        return templating.normalize_namespace(raw)
    except TemplateError as exc:
        raise click.UsageError(str(exc)) from None


@dataclass(frozen=True)
class NewFlags(BaseFlags):
    namespace: str | None = None
    template: str | None = None
    language: Language | None = None


class _Options:
    """The flags merged with the config file (values checked by the flags' types); an error
    caused by a value from the file names the file."""

    def __init__(self, ctx: click.Context) -> None:
        try:
            configured = configure(ctx, "new", NewFlags)
        except RcError as exc:
            raise click.ClickException(str(exc)) from None
        self.flags, self.rc = configured.flags, configured.rc
        self.ctx = ctx
        self.given = rcfile.given_names(ctx)

    def origin(self, key: str) -> str:
        """' The value comes from <file>.' when the config file set ``key``, else ''."""
        from_file = (
            key not in self.given
            and self.rc.path is not None
            and getattr(self.flags, key) != self.ctx.params.get(key)
        )
        return f" The value comes from {self.rc.path}." if from_file else ""


LANGUAGE_CHOICE = click.Choice(["js", "python"])


@click.command()
@click.argument("namespace", required=False)
@click.option(
    "--template",
    default=None,
    help="Template id (see `callbox list-templates`); js/ID or python/ID names the language.",
)
@click.option(
    "--language",
    type=LANGUAGE_CHOICE,
    default=None,
    help="The template's language. Default: the project's (package.json or .js functions: js).",
)
@base_options
@click.pass_context
def new(ctx: click.Context, **_flags: Any) -> None:
    """Add a template's files to the project, under NAMESPACE.

    Files go to functions/NAMESPACE/ and assets/NAMESPACE/, the template's variables are
    added to .env (or --env), its packages to requirements.txt or package.json and its
    instructions to readmes/NAMESPACE/. The template is in the project's language (JavaScript
    when it has package.json or .js functions, else Python) unless --language or the id
    (js/ID, python/ID) says otherwise. Asks for what is not given; the config file may set
    template and namespace. Run inside functions/, assets/, src/, static/ or readmes/, it
    works on the project around that folder. With -l warn, error or none only errors are
    printed.

    \b
    Examples:
      callbox new                                   # asks for the template and namespace
      callbox new greet --template hello-world      # functions/greet/hello-world.py (or .js)
      callbox new auth --template js/jwt-auth       # the JavaScript version
      callbox new auth --template jwt-auth --cwd my-project --env .env.dev
      callbox list-templates                        # the templates to choose from
    """
    options = _Options(ctx)
    flags = options.flags
    chatty = Printer(str(flags.log_level or "info")).chatty
    # configure() checked the file's values with the flags' types: strings or None.
    template_id, namespace, env, cwd = flags.template, flags.namespace, flags.env, flags.cwd
    root = templating.project_root(Path(cwd) if cwd is not None else Path.cwd())
    try:
        templating.project_folders(root)  # a wrong folder fails before any question
        target_env = env_file(root, env) if env else None
        project = templating.language_of_project(root)
        language: Language = flags.language or project or "python"
        if template_id is None:
            choices = templating.list_templates(language=language)
            for choice in choices:
                click.echo(f"  {choice.id:<18} {choice.description}")
            template_id = click.prompt(
                "Template", type=click.Choice([t.id for t in choices]), show_choices=False
            )
        try:
            template = templating.get_template(template_id, language=language)
        except TemplateError as exc:
            raise TemplateError(f"{exc}{options.origin('template')}") from None
        _check_language(template, templating.language_of_project(root, functions_only=True))
        if namespace is None:
            namespace = click.prompt(
                "Namespace (the folder for the template's files)",
                default=template.id,
                value_proc=_namespace,
            )
        else:
            try:
                namespace = templating.normalize_namespace(namespace)
            except TemplateError as exc:
                raise TemplateError(f"{exc}{options.origin('namespace')}") from None
        created = templating.create_from_template(template, namespace, root, target_env)
    except TemplateError as exc:
        raise click.ClickException(str(exc)) from None
    if not chatty:  # Twilio's toolkit logs all of this at info level
        return
    click.echo(f'SUCCESS Created new template in the "{namespace}" subdirectories.')
    for file in created.files:
        click.echo(f"  {file.as_posix()}")
    if created.readme is not None:
        click.echo(f"Check {created.readme.as_posix()} for template instructions.")
    if created.new_requirements:
        click.echo(f"INFO Added {', '.join(created.new_requirements)} to requirements.txt")
    if created.new_packages:
        click.echo(f"INFO Added {', '.join(created.new_packages)} to package.json")
    if created.new_env_keys:
        shown = templating.shown(target_env, root) if target_env is not None else ".env"
        click.echo(
            f"INFO Make sure to configure {','.join(created.new_env_keys)} in the {shown} file"
        )


def _check_language(template: templating.Template, project: Language | None) -> None:
    """A template whose functions are not in the language of the project's functions
    (``project``) would make it mixed: refused before any file is written (a build runs one
    runtime)."""
    has_functions = (template.folder / "functions").is_dir()
    if project is None or project == template.language or not has_functions:
        return
    raise TemplateError(
        f"This project's functions are {LANGUAGE_NAMES[project]} and a build runs one runtime: "
        f'the {LANGUAGE_NAMES[template.language]} version of "{template.id}" cannot be added. '
        f"Use --language {project} (or --template {project}/{template.id})."
    )


@click.command("list-templates")
@output_option
def list_templates(output_format: str) -> None:
    """List the templates `callbox new` and `callbox init` can use, and their languages.

    \b
    Examples:
      callbox list-templates
      callbox list-templates -o json     # [{id, name, description, languages}, ...]
      callbox new --template hello-world # then use one (in the project's language)
      callbox init bot --language js --template hello-messaging
    """
    entries = templating.catalog()
    if output_format == "json":
        click.echo(json.dumps(entries, indent="\t"))
        return
    for entry in entries:
        names = [LANGUAGE_NAMES[language] for language in entry["languages"]]
        click.echo(f"‣ {entry['name']} ({entry['id']})")
        click.echo(f"  {entry['description']} ({', '.join(names)})")
