"""The one entry point: ``piccl scan | watch | serve | run | status | doctor | export | find | models | people |
faces``."""

from __future__ import annotations

import logging
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy import func, select

from plugin import __version__
from plugin.config import ConfigError, Settings, load_settings
from plugin.logs import configure_logging
from plugin.scan import Scanner, ScanSummary
from plugin.sources.webdav import SourceUnavailable
from plugin.store.db import open_database
from plugin.store.models import Decision, Library, Photo, PhotoGroup, Recommendation, ScanRun
from plugin.writeback.nextcloud_job import nextcloud_tag_status
from plugin.writeback.queue import writeback_status

console = Console(stderr=True)


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    try:
        settings = load_settings(ctx.obj.get("config"), **overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    service = settings.service
    configure_logging("DEBUG" if ctx.obj.get("verbose") else service.log_level, service.log_format, console)
    return settings


@click.group()
@click.version_option(__version__, prog_name="piccl")
@click.option("--config", "config", type=click.Path(path_type=Path), envvar=None,
              help="YAML or TOML config file (else PICCL_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, verbose: bool) -> None:
    """piccl: a photo sieve for your own library."""
    # Until the settings are read (they may set the level and format); each command reads them first.
    configure_logging("DEBUG" if verbose else "INFO", "auto", console)
    ctx.obj = {"config": config, "verbose": verbose}


def _library_overrides(paths: tuple[str, ...]) -> dict[str, Any]:
    return {"library": list(paths)} if paths else {}


def _with_workers(settings: Settings, workers: int | None, kind: str | None) -> Settings:
    update = {k: v for k, v in (("count", workers), ("kind", kind)) if v is not None}
    if not update:
        return settings
    return settings.model_copy(update={"workers": settings.workers.model_copy(update=update)})


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=console, transient=False,
    )


def run_scans(settings: Settings, retry_errors: bool = False, show_progress: bool = True) -> list[ScanSummary]:
    if not settings.library:
        raise click.ClickException("no library given: `piccl scan PATH` or set PICCL_LIBRARY")
    for root in settings.library:
        if isinstance(root, Path) and not root.is_dir():
            raise click.ClickException(f"{root}: not a folder")
    sessions = open_database(settings.resolved_database_url)
    summaries: list[ScanSummary] = []
    progress = _progress() if show_progress and console.is_terminal else None
    with progress or nullcontext():
        for root in settings.library:
            label = root.name or str(root) if isinstance(root, Path) else root
            task_id = progress.add_task(label, total=None, rate="") if progress else None

            def update(done: int, total: int, _rel: str, task_id: Any = task_id) -> None:
                if progress is None:
                    return
                elapsed = progress.tasks[task_id].elapsed or 0
                rate = f"{done / elapsed:.1f} photos/s" if elapsed and done else ""
                progress.update(task_id, completed=done, total=total, rate=rate)

            scanner = Scanner(settings, sessions, progress=update)
            try:
                summaries.append(scanner.scan(root, retry_errors=retry_errors))
            except SourceUnavailable as exc:
                # One library out of reach must not keep the others from being scanned.
                summaries.append(ScanSummary(str(root), unavailable=str(exc)))
            except Exception as exc:  # a bug met in one library: reported, and the others are still scanned
                logging.getLogger("piccl").exception("scan of %s failed", root)
                summaries.append(ScanSummary(str(root), unavailable=f"the scan failed: {type(exc).__name__}: {exc}"))
    if any(s.new_faces or s.gone for s in summaries):
        # New faces: group them now, so people are there when the scan is done.
        from plugin.people.service import cluster_faces

        report = cluster_faces(sessions, settings.faces, scanner.options.face_models.embed_model)
        summaries[-1].people = report.as_dict()
    if any(s.processed or s.moved or s.gone for s in summaries):
        from plugin.grouping.service import group_photos

        summaries[-1].groups = group_photos(sessions, settings.similar).as_dict()
    from plugin.places.service import events_needed, refresh_events

    if any(s.processed or s.moved or s.gone for s in summaries) or events_needed(sessions):
        refresh_events(sessions, settings)
    return summaries


def print_summary(summary: ScanSummary) -> None:
    table = Table(title=f"scan of {summary.library}", show_header=False, box=None)
    if summary.unavailable:
        table.add_row("[red]not scanned[/]", summary.unavailable)
        Console().print(table)
        return
    rate = summary.processed / summary.seconds if summary.seconds else 0
    rows = [
        ("photos", summary.photos), ("new", summary.new), ("changed", summary.changed),
        ("retried", summary.retried), ("re-analysed", summary.reanalysed), ("unchanged", summary.unchanged),
        ("moved", summary.moved),
        ("gone", summary.gone), ("ok", summary.ok),
        ("time", f"{summary.seconds:.1f} s ({rate:.1f} photos/s)"),
    ]
    for key, value in rows:
        table.add_row(key, str(value))
    for title, counter in (("errors", summary.errors), ("skipped", summary.skipped), ("flagged", summary.flagged)):
        detail = ", ".join(f"{reason} {n}" for reason, n in counter.most_common()) or "none"
        table.add_row(title, f"{sum(counter.values())} ({detail})" if counter else "0")
    if summary.ignored:
        table.add_row("ignored", ", ".join(f"{k} {v}" for k, v in sorted(summary.ignored.items())))
    if summary.new_faces:
        table.add_row("faces", f"{summary.new_faces} new, {summary.faces_assigned} joined a known person")
    if summary.people:
        table.add_row("people", f"{summary.people['people_after']} ({summary.people['new_people']} new), "
                      f"{summary.people['unassigned']} faces unassigned")
    if summary.groups:
        kinds = ", ".join(f"{n} {k.replace('_', '-')}" for k, n in sorted(summary.groups["groups"].items()))
        table.add_row("groups", f"{kinds or 'none'}; {summary.groups['recommended']} photos to delete")
    for folder, reason in summary.unreadable_dirs.items():
        table.add_row("unreadable", f"{folder}: {reason}")
    for warning in summary.warnings:
        table.add_row("[yellow]warning[/]", warning)
    Console().print(table)


@cli.command()
@click.argument("paths", nargs=-1, metavar="PATH_OR_URL...")
@click.option("--retry-errors", is_flag=True, help="Read again files that failed before, even if unchanged.")
@click.option("--workers", type=click.IntRange(min=1), help="Worker count (default: one per core).")
@click.option("--worker-kind", type=click.Choice(["process", "thread"]), help="Processes (default) or threads.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def scan(ctx: click.Context, paths: tuple[str, ...], retry_errors: bool, workers: int | None,
         worker_kind: str | None, as_json: bool) -> None:
    """Scan PATHS (or the configured library) once, then exit."""
    settings = _with_workers(_settings(ctx, **_library_overrides(paths)), workers, worker_kind)
    summaries = run_scans(settings, retry_errors=retry_errors)
    if as_json:
        import json

        click.echo(json.dumps([s.as_dict() for s in summaries], indent=2))
    else:
        for summary in summaries:
            print_summary(summary)
    unavailable = [s.unavailable for s in summaries if s.unavailable]
    if unavailable:
        raise click.ClickException("not scanned: " + "; ".join(unavailable))


def _watch_settings(settings: Settings) -> Settings:
    if not settings.library:
        raise click.ClickException("no library given: `piccl watch PATH` or set PICCL_LIBRARY")
    return settings


def _run_service(settings: Settings, *, web: bool, watch: bool) -> None:
    from plugin.service import run_service

    if not run_service(settings, web=web, watch=watch):
        sys.exit(1)


@cli.command()
@click.argument("paths", nargs=-1, metavar="PATH_OR_URL...")
@click.option("--polling", is_flag=True, default=None, help="Poll instead of inotify (SMB/NFS shares).")
@click.pass_context
def watch(ctx: click.Context, paths: tuple[str, ...], polling: bool | None) -> None:
    """Scan, then watch the library and analyse new photos as they arrive."""
    overrides = _library_overrides(paths)
    if polling:
        overrides["watch_polling"] = True
    _run_service(_watch_settings(_settings(ctx, **overrides)), web=False, watch=True)


def _ui_overrides(settings: Settings, host: str | None, port: int | None) -> Settings:
    update = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    return settings.model_copy(update={"ui": settings.ui.model_copy(update=update)}) if update else settings


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1; 0.0.0.0 for the LAN).")
@click.option("--port", type=int, default=None, help="Port (default 8080).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the review UI: go through recommendations, keep or trash, undo."""
    _run_service(_ui_overrides(_settings(ctx), host, port), web=True, watch=False)


@cli.command()
@click.argument("paths", nargs=-1, metavar="PATH_OR_URL...")
@click.option("--host", default=None, help="Address the review UI listens on.")
@click.option("--port", type=int, default=None, help="Port of the review UI.")
@click.pass_context
def run(ctx: click.Context, paths: tuple[str, ...], host: str | None, port: int | None) -> None:
    """The container's main job: the review UI, the watcher, the scheduler and the analysis, supervised.

    Stops cleanly on SIGTERM; /healthz says whether each part runs."""
    settings = _ui_overrides(_settings(ctx, **_library_overrides(paths)), host, port)
    if not settings.library:
        logging.getLogger("piccl").warning("no library given (PICCL_LIBRARY): serving the review UI only")
    _run_service(settings, web=True, watch=bool(settings.library))


@cli.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """What the database holds: photos by status, recommendations, decisions, the last scans."""
    settings = _settings(ctx)
    sessions = open_database(settings.resolved_database_url)
    out = Console()
    with sessions() as session:
        libraries = session.scalars(select(Library).order_by(Library.root)).all()
        if not libraries:
            out.print("no library scanned yet: `piccl scan PATH`")
            return
        for library in libraries:
            present = (Photo.library_id == library.id) & Photo.gone_at.is_(None)
            by_status = dict(session.execute(
                select(Photo.status, func.count()).where(present).group_by(Photo.status)).all())
            reasons = dict(session.execute(
                select(Photo.error_reason, func.count()).where(present, Photo.status != "ok")
                .group_by(Photo.error_reason)).all())
            gone = session.scalar(select(func.count()).where(Photo.library_id == library.id,
                                                            Photo.gone_at.is_not(None)))
            flagged = dict(session.execute(
                select(Recommendation.reason, func.count()).join(Photo, Recommendation.photo_id == Photo.id)
                .where(present).group_by(Recommendation.reason)).all())
            decisions = dict(session.execute(
                select(Decision.decision, func.count()).join(Photo).where(Photo.library_id == library.id)
                .group_by(Decision.decision)).all())
            last = session.scalars(select(ScanRun).where(ScanRun.library_id == library.id)
                                   .order_by(ScanRun.id.desc()).limit(1)).first()
            table = Table(title=library.root, show_header=False, box=None)
            table.add_row("photos", str(sum(by_status.values())))
            for key in ("ok", "error", "skipped"):
                table.add_row(f"  {key}", str(by_status.get(key, 0)))
            if reasons:
                table.add_row("  reasons", ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=str)))
            table.add_row("gone", str(gone))
            table.add_row("recommended", ", ".join(f"{r} {n}" for r, n in sorted(flagged.items())) or "none")
            table.add_row("decisions", ", ".join(f"{d} {n}" for d, n in sorted(decisions.items())) or "none")
            if last is not None:
                state = last.state if last.finished_at else "interrupted or running"
                table.add_row("last scan", f"{last.started_at:%Y-%m-%d %H:%M:%S} UTC, {state}")
            out.print(table)
        wb = writeback_status(session, limit=3)
        out.print(f"write-back (XMP sidecars): {wb.written} written, {wb.failed} failed, {wb.not_yet} pending")
        for path, reason in wb.recent_failures:
            out.print(f"  {path}: {reason}")
        if settings.webdav.nextcloud_tags:
            nc = nextcloud_tag_status(session, limit=3)
            out.print(f"write-back (Nextcloud tags): {nc.written} written, {nc.failed} failed, {nc.pending} pending")
            for path, reason in nc.recent_failures:
                out.print(f"  {path}: {reason}")
        # Groups may span libraries (a copy in each): counted once, for all of them.
        kinds = dict(session.execute(select(PhotoGroup.kind, func.count()).group_by(PhotoGroup.kind)).all())
        out.print("groups: " + (", ".join(f"{n} {k.replace('_', '-')}" for k, n in sorted(kinds.items()))
                                or "none (`piccl groups` finds them)"))


@cli.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check configuration, database, folders, decoders, models and onnxruntime providers."""
    from plugin.doctor import run_checks

    settings = _settings(ctx)
    marks = {"ok": "[green]ok[/]  ", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}
    checks = run_checks(settings)
    out = Console()
    for check in checks:
        out.print(f"{marks[check.level]} {check.area:12} {check.message}", highlight=False, soft_wrap=True)
    if any(c.level == "fail" for c in checks):
        sys.exit(1)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="File to write (default: stdout).")
@click.option("--include-gone", is_flag=True, help="Also export photos whose file has disappeared.")
@click.pass_context
def export(ctx: click.Context, fmt: str, output: Path | None, include_gone: bool) -> None:
    """Write one JSON object per photo with everything piccl knows about it."""
    from plugin.export import write_jsonl

    settings = _settings(ctx)
    sessions = open_database(settings.resolved_database_url)
    with sessions() as session:
        if output is None:
            count = write_jsonl(session, sys.stdout, include_gone)
        else:
            with output.open("w", encoding="utf-8") as handle:
                count = write_jsonl(session, handle, include_gone)
    console.print(f"exported {count} photos", highlight=False)


@cli.command()
@click.option("--tag", "tags", multiple=True, metavar="TAG",
              help="A PICCL tag (person, animal, vehicle, furniture, book, bag, sports, food, device) or a COCO "
              "class (dog, cup, ...). Repeat to require several.")
@click.option("--scene", type=click.Choice(["people", "animal", "landscape", "vehicle", "building", "other"]),
              help="Only photos of this scene.")
@click.option("--limit", type=int, default=None, help="At most this many photos.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per photo (path, tags, scene).")
@click.option("--tags-list", is_flag=True, help="List the tags in use with their photo counts instead.")
@click.pass_context
def find(ctx: click.Context, tags: tuple[str, ...], scene: str | None, limit: int | None, as_json: bool,
         tags_list: bool) -> None:
    """Photos by what is in them, newest first: `piccl find --tag dog`, `piccl find --scene landscape`."""
    import json
    from pathlib import PurePosixPath

    from plugin.search import find_photos, tag_counts

    settings = _settings(ctx)
    sessions = open_database(settings.resolved_database_url)
    out = sys.stdout
    with sessions() as session:
        if tags_list:
            for (kind, tag), count in sorted(tag_counts(session).items(), key=lambda kv: (kv[0][0], -kv[1])):
                out.write(f"{kind}\t{tag}\t{count}\n")
            return
        if not tags and not scene:
            raise click.UsageError("give --tag and/or --scene (or --tags-list)")
        count = 0
        for photo, library in find_photos(session, tags, scene, limit):
            path = str(PurePosixPath(library.root) / photo.relpath)
            if as_json:
                by_kind: dict[str, list[str]] = {}
                for tag in sorted(photo.tags, key=lambda t: (t.kind, t.tag)):
                    by_kind.setdefault(tag.kind, []).append(tag.tag)
                out.write(json.dumps({"path": path, "tags": by_kind.get("piccl", []),
                                      "objects": by_kind.get("object", []),
                                      "scene": (by_kind.get("scene") or [None])[0]}, ensure_ascii=False) + "\n")
            else:
                out.write(path + "\n")
            count += 1
    console.print(f"{count} photos", highlight=False)


@cli.group()
def models() -> None:
    """The model files: list what is installed, fetch what is missing, verify checksums."""


def _model_rows(settings: Settings, fetch: bool) -> list[tuple[str, str, str, str]]:
    from models.fetch import load_manifest
    from plugin.inference.models import model_status

    rows: list[tuple[str, str, str, str]] = []
    problems: list[str] = []
    with _progress() as progress:
        for name, spec in load_manifest().items():
            task_id = None

            def hook(done: int, total: int | None, name: str = name) -> None:
                nonlocal task_id
                if task_id is None:
                    task_id = progress.add_task(f"download {name}", total=total, rate="")
                progress.update(task_id, completed=done)

            status = model_status(name, settings, allow_download=fetch, progress=hook)
            rows.append((name, spec.task, str(status.state), str(status.path) if status.path else "-"))
            if not status.ok:
                problems.append(f"{name}: {status.detail}")
    for line in problems:
        console.print(line, highlight=False, soft_wrap=True)
    return rows


def _print_models(rows: list[tuple[str, str, str, str]]) -> None:
    table = Table("model", "task", "state")
    table.add_column("file", overflow="fold")
    for name, task, state, where in rows:
        colour = "green" if state == "ok" else "red" if "mismatch" in state else "yellow"
        table.add_row(name, task, f"[{colour}]{state}[/]", where)
    Console().print(table)


@models.command("list")
@click.pass_context
def models_list(ctx: click.Context) -> None:
    """Each model in the manifest, where it was found and whether its sha256 matches."""
    _print_models(_model_rows(_settings(ctx), fetch=False))


def _check_models(ctx: click.Context, fetch: bool) -> None:
    rows = _model_rows(_settings(ctx), fetch=fetch)
    _print_models(rows)
    if any(state != "ok" for _, _, state, _ in rows):
        sys.exit(1)


@models.command("verify")
@click.pass_context
def models_verify(ctx: click.Context) -> None:
    """Check every model file against the manifest's sha256; exit 1 when one is corrupt or missing."""
    _check_models(ctx, fetch=False)


@models.command("fetch")
@click.pass_context
def models_fetch(ctx: click.Context) -> None:
    """Download missing (or corrupt cached) models into <data_dir>/models, checked by sha256."""
    _check_models(ctx, fetch=True)


@cli.command("settings")
@click.option("--changed", is_flag=True, help="Only the settings that differ from their defaults.")
@click.pass_context
def settings_command(ctx: click.Context, changed: bool) -> None:
    """Every setting: its environment variable, the value in effect (passwords hidden) and its default."""
    from plugin.config_reference import current_values, sections

    values = current_values(_settings(ctx))
    table = Table(box=None, show_header=True, header_style="bold")
    for column in ("environment variable", "value", "default"):
        table.add_column(column, overflow="fold")
    for section in sections():
        for row in section.rows:
            value = values.get(row.key, "")
            if not changed or value != row.default:
                table.add_row(row.env, value, "" if value == row.default else row.default)
    Console().print(table)


def _add_commands() -> None:
    from plugin.cli_albums import albums
    from plugin.cli_groups import gif, groups
    from plugin.cli_people import faces, people
    from plugin.cli_places import events, places
    from plugin.cli_writeback import writeback

    cli.add_command(albums)
    cli.add_command(writeback)
    cli.add_command(people)
    cli.add_command(faces)
    cli.add_command(groups)
    cli.add_command(gif)
    cli.add_command(places)
    cli.add_command(events)


_add_commands()


def main() -> None:
    cli(prog_name="piccl")
