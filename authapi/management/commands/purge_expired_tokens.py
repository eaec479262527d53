"""`python manage.py purge_expired_tokens [--schema NAME]`: the beat purge, in the foreground."""

from __future__ import annotations

import time
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from authapi import purge


class Command(BaseCommand):
    help = (
        "Delete expired outstanding tokens and their blacklist rows in every schema "
        "(public and each active client), or in one with --schema."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--schema", help="purge only this schema (public or a client's)")
        parser.add_argument(
            "--batch-size", type=int, default=None, help="rows per batch (PURGE_BATCH_SIZE)"
        )

    def handle(self, *args: Any, schema: str | None, batch_size: int | None, **opts: Any) -> None:
        schemas = purge.schemas_to_purge()
        if schema is not None and schema not in schemas:
            raise CommandError(
                f"unknown schema {schema!r}: not public and not an active client's schema"
            )
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        targets = [schema] if schema is not None else schemas
        now = timezone.now()
        started = time.monotonic()
        console = Console(file=cast(TextIO, self.stdout._out), highlight=False, soft_wrap=True)
        outstanding = blacklisted = 0
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as bars:
            for name in targets:
                total = purge.tokens_count_expired(schema_name=name, now=now)
                bar = bars.add_task(name, total=total)

                def advance(
                    batch_outstanding: int, _batch_blacklisted: int, bar: TaskID = bar
                ) -> None:
                    bars.advance(bar, batch_outstanding)

                result = purge.tokens_purge_expired(
                    schema_name=name, batch_size=batch_size, now=now, progress=advance
                )
                bars.update(bar, total=max(total, result.outstanding_deleted))
                outstanding += result.outstanding_deleted
                blacklisted += result.blacklisted_deleted
        console.print(
            f"purged {outstanding} expired outstanding and {blacklisted} blacklisted tokens "
            f"in {len(targets)} schema(s) in {time.monotonic() - started:.2f}s"
        )
