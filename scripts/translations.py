"""Refresh the message catalogues after changing the pages' wording.

``.venv/bin/python scripts/translations.py extract`` writes the template
(``locale/messages.pot``); ``update`` also merges it into every language's
``messages.po`` (new messages come in empty, vanished ones are dropped);
``check`` lists what still needs a translator and fails if anything does.
"""

from __future__ import annotations

import sys

import click

from ocpp_core.management import catalogues


@click.group()
def main() -> None:
    """The translation catalogues of the management app and the driver pages."""


@main.command()
def extract() -> None:
    """Write the template of every message in the sources."""
    catalogues.write(catalogues.extract(), catalogues.TEMPLATE)
    click.echo(catalogues.TEMPLATE)


@main.command()
def update() -> None:
    """Extract, then merge into every language's catalogue."""
    template = catalogues.extract()
    catalogues.write(template, catalogues.TEMPLATE)
    for path in catalogues.update(template):
        click.echo(path)


@main.command()
def check() -> None:
    """List missing or broken translations; exit status 1 if there are any."""
    found = catalogues.problems(catalogues.extract())
    for problem in found:
        click.echo(problem)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
