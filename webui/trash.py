"""The trash page: what piccl moved aside, restore, and empty for good after a confirmation."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from plugin.store.models import utcnow
from webui import queries
from webui.extensions import db, services
from webui.forms import form_ids
from webui.review import cursor_arg

bp = Blueprint("trash", __name__, url_prefix="/trash")


def _cutoff() -> datetime:
    return utcnow() - timedelta(days=services().settings.trash_retention_days)


@bp.get("/")
def index() -> ResponseReturnValue:
    tiles, next_cursor = queries.trash_page(db(), cursor_arg(), services().settings.ui.page_size)
    return render_template("trash.html", tiles=tiles, next_cursor=next_cursor,
                           totals=queries.trash_totals(db(), _cutoff()),
                           retention_days=services().settings.trash_retention_days,
                           auto_empty=services().settings.trash_auto_empty)


@bp.post("/restore")
def restore() -> ResponseReturnValue:
    ids = form_ids("entry_id")
    if not ids:
        abort(400)
    outcomes = services().trash_bin.restore(ids)
    queries.counts_cache.clear()
    queries.library_cache.clear()
    done = [o for o in outcomes if o.ok]
    renamed = [o for o in done if o.renamed]
    if done:
        flash(f"Restored {len(done)} photo{'s' if len(done) != 1 else ''}.")
    for o in renamed:
        flash(f"Its place was taken, so it was restored as {o.restored_relpath}.")
    for o in outcomes:
        if not o.ok:
            flash(f"Could not restore one photo: {(o.reason or 'failed').replace('_', ' ')}.", "error")
    return redirect(url_for("trash.index"))


@bp.get("/empty")
def confirm_empty() -> ResponseReturnValue:
    return render_template("trash_empty.html", totals=queries.trash_totals(db(), _cutoff()),
                           retention_days=services().settings.trash_retention_days,
                           auto_empty=services().settings.trash_auto_empty)


@bp.post("/empty")
def empty() -> ResponseReturnValue:
    """Delete for good: needs the confirmation field the confirm page sends."""
    if request.form.get("confirm") != "delete":
        flash("Nothing was deleted: the deletion was not confirmed.", "error")
        return redirect(url_for("trash.confirm_empty"))
    summary = services().trash_bin.empty(everything=request.form.get("scope") == "all")
    queries.library_cache.clear()
    flash(f"Deleted {summary.purged} photo{'s' if summary.purged != 1 else ''} for good.")
    if summary.failed:
        flash(f"{len(summary.failed)} could not be deleted and stay in the trash.", "error")
    if summary.in_nextcloud_bin:
        flash(f"{summary.in_nextcloud_bin} stay{'s' if summary.in_nextcloud_bin == 1 else ''} in Nextcloud's trash "
              "bin: Nextcloud deletes them after its own retention period, or empty its trash bin there.")
    return redirect(url_for("trash.index"))
