"""Groups in the review: the Duplicates and Similar tabs show one group at a time, its photos side by side.

piccl keeps one photo of each group (the keeper) and recommends the others for deletion. From a group's page
the user keeps them all, trashes the others, takes another photo as the keeper (kept across re-grouping), or
makes an animated GIF and WebP of it. Every change is a plain form (it works without JavaScript) that posts
and redirects; one that cannot be made (a group regrouped away, too few readable photos for a GIF) is flashed.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from plugin.grouping.animation import Animation, AnimationError, make_animation
from plugin.grouping.service import GROUP_REASONS, GroupError, set_keeper
from webui import queries
from webui.extensions import db, services
from webui.forms import form_ids, number

bp = Blueprint("groups", __name__, url_prefix="/groups")

# Past this many photos a decision gets no Undo in its flash: the ids would ride in the session cookie,
# which browsers drop (logging the user out) beyond 4 KB.
MAX_UNDO_IDS = 100
EMPTY_TEXT = {"duplicate": "No duplicates to review.", "similar": "No similar photos to review."}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _reason_arg(source: dict[str, str] | None = None) -> str | None:
    value = (source if source is not None else request.args).get("reason")
    return value if value in GROUP_REASONS else None


def _group(group_id: int) -> queries.GroupView:
    group = queries.group_view(db(), group_id)
    if group is None:
        abort(404, description="This group is no longer there: piccl has grouped the photos again since.")
    return group


def _reason_of(group: queries.GroupView, reason: str | None) -> str:
    return reason or group.reason


def _shown(group: queries.GroupView) -> set[int]:
    """The photos the page showed when the user decided (the group may have been regrouped since).

    A form without them (a script, an old page) acts on the group as it is now.
    """
    posted = set(form_ids("shown"))
    keeper = request.form.get("keeper_id")
    current = group.keeper.photo_id if group.keeper else None
    if keeper is not None and keeper != ("" if current is None else str(current)):
        raise GroupError("this group changed since the page was shown (piccl grouped the photos again): "
                         "look at it again")
    return posted if "shown" in request.form else {m.photo_id for m in group.pending}


def _back(group_id: int) -> ResponseReturnValue:
    return redirect(url_for("groups.view", group_id=group_id, reason=_reason_arg(request.form)))


@bp.errorhandler(GroupError)
@bp.errorhandler(AnimationError)
def _refused(error: ValueError) -> ResponseReturnValue:
    db().rollback()
    flash(f"Not done: {error}.", "error")
    group_id = (request.view_args or {}).get("group_id")
    if group_id is None:
        return redirect(url_for("review.index"))
    return _back(group_id)


# -- pages ----------------------------------------------------------------------------------------

def render_queue(reason: str) -> ResponseReturnValue:
    """The tab of ``reason`` ('duplicate' or 'similar'): the newest group still to review, or the empty state."""
    first = queries.group_queue_first(db(), reason)
    if first is None:
        return render_template("group.html", reason=reason, group=None, counts=queries.queue_counts(db()),
                               tabs=_tabs(), empty_text=EMPTY_TEXT[reason])
    return _render(_group(first), reason)


def _tabs() -> dict[str, str]:
    from webui.review import TAB_TITLES  # the review blueprint routes its group tabs here
    return TAB_TITLES


def _render(group: queries.GroupView, reason: str) -> ResponseReturnValue:
    before, after = queries.group_neighbours(db(), reason, group.group_id)
    total = queries.group_queue_size(db(), reason)
    return render_template("group.html", reason=reason, group=group, before=before, after=after,
                           total=total, counts=queries.queue_counts(db()), tabs=_tabs(),
                           empty_text=EMPTY_TEXT[reason])


@bp.get("/<int:group_id>")
def view(group_id: int) -> ResponseReturnValue:
    """One group, with the Previous and Next groups of its tab's queue."""
    group = _group(group_id)
    return _render(group, _reason_of(group, _reason_arg()))


# -- decisions ------------------------------------------------------------------------------------

def _after_decision(group: queries.GroupView, reason: str) -> ResponseReturnValue:
    """On to the next group of the queue; at its end, back to the tab (the earlier groups, or its empty state)."""
    _, after = queries.group_neighbours(db(), reason, group.group_id)
    if after is not None:
        return redirect(url_for("groups.view", group_id=after, reason=reason))
    return redirect(url_for("review.queue", reason=reason))


def _flash_done(text: str, group_id: int, reason: str, done: list[int], failed: dict[int, str]) -> None:
    if failed:
        why = ", ".join(sorted(set(failed.values()))).replace("_", " ")
        flash(f"{_plural(len(failed), 'photo')} could not be changed: {why}.", "error")
    if done and len(done) <= MAX_UNDO_IDS:
        flash({"text": text, "photo_ids": done, "reason": reason,
               "undo_url": url_for("groups.undo", group_id=group_id)}, "undo")
    elif done:
        flash(text)


@bp.post("/<int:group_id>/keep")
def keep_all(group_id: int) -> ResponseReturnValue:
    """Keep every member still to review: piccl was wrong, or the user wants them all."""
    group = _group(group_id)
    reason = _reason_of(group, _reason_arg(request.form))
    shown = _shown(group)
    ids = [m.photo_id for m in group.pending if m.photo_id in shown]
    if not ids:
        raise GroupError("every photo of this group is decided already")
    db().rollback()  # the reviewer writes in its own session
    result = services().reviewer.decide(ids, "keep")
    queries.counts_cache.clear()
    _flash_done(f"Kept all {_plural(len(result.done), 'photo')}.", group_id, reason, result.done, result.failed)
    return _after_decision(group, reason)


@bp.post("/<int:group_id>/trash-others")
def trash_others(group_id: int) -> ResponseReturnValue:
    """Keep the keeper and trash the other members still to review (those the user kept before stay)."""
    group = _group(group_id)
    reason = _reason_of(group, _reason_arg(request.form))
    keeper = group.keeper
    shown = _shown(group)
    # Without a keeper in the library this would trash the whole group: the user chooses a keeper first.
    if keeper is None or keeper.state in ("trashed", "gone"):
        raise GroupError("the photo to keep is no longer in the library: choose another one to keep first")
    # Only photos the user saw go to the trash: one that joined the group since stays for the next look.
    others = [m.photo_id for m in group.pending if not m.keeper and m.photo_id in shown]
    if not others:
        raise GroupError("no other photo of this group is left to trash")
    db().rollback()
    kept = services().reviewer.decide([keeper.photo_id], "keep") if keeper.state is None else None
    if kept is not None and kept.failed:
        raise GroupError(f"could not keep {keeper.name}: {kept.failed[keeper.photo_id].replace('_', ' ')}")
    trashed = services().reviewer.decide(others, "trash")
    queries.counts_cache.clear()
    queries.library_cache.clear()
    done = (kept.done if kept else []) + trashed.done
    _flash_done(f"Kept {keeper.name} and trashed {_plural(len(trashed.done), 'other')}.", group_id, reason, done,
                trashed.failed)
    return _after_decision(group, reason)


@bp.post("/<int:group_id>/undo")
def undo(group_id: int) -> ResponseReturnValue:
    """Take back a group's decisions (the flash's Undo): trashed photos return, and the group to its queue."""
    ids = form_ids("photo_id")
    if not ids:
        abort(400)
    result = services().reviewer.undo(ids)
    queries.counts_cache.clear()
    queries.library_cache.clear()
    if result.failed:
        flash("Could not undo: " + ", ".join(sorted(set(result.failed.values()))).replace("_", " "), "error")
    if queries.group_view(db(), group_id) is None:
        return redirect(url_for("review.index"))
    return _back(group_id)


# -- the keeper and the animation -----------------------------------------------------------------

@bp.post("/<int:group_id>/keeper")
def keeper(group_id: int) -> ResponseReturnValue:
    """The user's keeper (kept when piccl groups again); an empty photo_id gives the choice back to piccl."""
    group = _group(group_id)
    value = request.form.get("photo_id", "")
    photo_id = number(value) if value else None
    if value and photo_id is None:
        abort(400)
    chosen = next((m for m in group.members if m.photo_id == photo_id), None)
    if photo_id is not None and (chosen is None or chosen.state in ("trashed", "gone")):
        raise GroupError("that photo is not in this group's library any more")
    db().rollback()
    updated = set_keeper(services().sessions, group_id, photo_id)
    queries.counts_cache.clear()
    if photo_id is None:
        name = next((m.name for m in group.members if m.photo_id == updated.keeper_photo_id), "a photo")
        flash(f"piccl chooses again: it keeps {name} ({updated.keeper_reason}).")
    else:
        flash(f"You keep {chosen.name if chosen else 'that photo'} now; the others are recommended for deletion.")
    return _back(group_id)


def flash_animation(made: Animation) -> str:
    """What was saved, in words (the paths are relative to the library)."""
    text = f"Saved {' and '.join(made.paths)} ({_plural(made.frames, 'frame')})."
    if made.skipped:
        text += f" Left out {_plural(len(made.skipped), 'photo')} that could not be read."
    return text


@bp.post("/<int:group_id>/gif")
def gif(group_id: int) -> ResponseReturnValue:
    """An animated GIF and WebP of the group's photos in the library, in capture order, saved in the library."""
    group = _group(group_id)
    ids = [m.photo_id for m in group.present]
    db().rollback()
    settings = services().settings
    made = make_animation(services().sessions, ids, settings.gif, max_pixels=settings.max_image_pixels)
    flash(flash_animation(made))
    return _back(group_id)
