"""``callbox new`` (alias ``template``) and ``callbox list-templates``: templates shipped with
callbox, copied into a project (the rules live in ``toolkit/templating.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from callbox.toolkit import templating
from callbox.toolkit.templating import TemplateError


def _namespace(raw: str) -> str:
    # Raised as UsageError, click.prompt shows the message and asks again.
    try:
        return templating.normalize_namespace(raw)
    except TemplateError as exc:
        raise click.UsageError(str(exc)) from None


@click.command()
@click.argument("namespace", required=False)
@click.option("--template", "template_id", help="Template id (see `callbox list-templates`).")
@click.option(
    "--cwd",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project folder (default: this folder; its parent when run inside functions/, "
    "assets/, src/, static/ or readmes/).",
)
def new(namespace: str | None, template_id: str | None, cwd: Path | None) -> None:
    """Add a template's files to the project, under NAMESPACE.

    Files go to functions/NAMESPACE/ and assets/NAMESPACE/, the template's variables are
    added to .env and its instructions to readmes/NAMESPACE/. Asks for what is not given.

    \b
    Examples:
      callbox new                                   # asks for the template and namespace
      callbox new greet --template hello-world      # functions/greet/hello-world.py
      callbox new auth --template jwt-auth --cwd my-project
      callbox list-templates                        # the templates to choose from
    """
    root = templating.project_root(cwd if cwd is not None else Path.cwd())
    try:
        templating.project_folders(root)  # a wrong folder fails before any question
        if template_id is None:
            choices = templating.list_templates()
            for choice in choices:
                click.echo(f"  {choice.id:<18} {choice.description}")
            template_id = click.prompt(
                "Template", type=click.Choice([t.id for t in choices]), show_choices=False
            )
        template = templating.get_template(template_id)
        if namespace is None:
            namespace = click.prompt(
                "Namespace (the folder for the template's files)",
                default=template.id,
                value_proc=_namespace,
            )
        else:
            namespace = templating.normalize_namespace(namespace)
        created = templating.create_from_template(template, namespace, root)
    except TemplateError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f'SUCCESS Created new template in the "{namespace}" subdirectories.')
    for file in created.files:
        click.echo(f"  {file.as_posix()}")
    if created.readme is not None:
        click.echo(f"Check {created.readme.as_posix()} for template instructions.")
    if created.new_requirements:
        click.echo(f"INFO Added {', '.join(created.new_requirements)} to requirements.txt")
    if created.new_env_keys:
        click.echo(f"INFO Make sure to configure {','.join(created.new_env_keys)} in the .env file")


@click.command("list-templates")
@click.option(
    "-o",
    "--output-format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the list as a JSON array of {id, name, description}, for scripts.",
)
def list_templates(output: str) -> None:
    """List the templates `callbox new` can add to a project.

    \b
    Examples:
      callbox list-templates
      callbox list-templates -o json
      callbox new --template hello-world           # then use one
    """
    templates = templating.list_templates()
    if output == "json":
        entries = [{"id": t.id, "name": t.name, "description": t.description} for t in templates]
        click.echo(json.dumps(entries, indent=2))
        return
    for template in templates:
        click.echo(f"‣ {template.name} ({template.id})")
        click.echo(f"  {template.description}")
