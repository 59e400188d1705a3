"""The household login: one account, a hashed password, sessions that end when the password changes."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash, generate_password_hash

from plugin.config import Settings
from plugin.store.models import Account
from webui.extensions import db, limiter, services

bp = Blueprint("auth", __name__)

MIN_PASSWORD_LENGTH = 8
# Endpoints anyone may reach: the login itself and the files it needs.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "auth.setup", "static", "health.healthz"})


def password_version(password_hash: str) -> str:
    """Stored in the session: a new password ends every existing login."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def sync_password(settings: Settings, sessions: sessionmaker[Session]) -> None:
    """Make the account's password the configured one (PICCL_PASSWORD or a secret file), if one is given."""
    password = settings.household_password()
    if password is None:
        return
    with sessions() as s:
        account = s.scalar(select(Account).order_by(Account.id).limit(1))
        if account is None:
            s.add(Account(username=settings.ui.username, password_hash=generate_password_hash(password)))
        elif not check_password_hash(account.password_hash, password) or account.username != settings.ui.username:
            account.username, account.password_hash = settings.ui.username, generate_password_hash(password)
        s.commit()


def _account() -> Account | None:
    return db().scalar(select(Account).order_by(Account.id).limit(1))


def require_login() -> ResponseReturnValue | None:
    """Runs before every request: without a valid login, pages redirect to it and the API answers 401."""
    if not services().settings.ui.login_required or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    account = _account()
    if _holds(account):
        return None
    if "uid" in session:
        # A login that no longer holds (a new password, another account): forget it. A session without a
        # login is left alone: it holds the CSRF token of a login form open in another request.
        session.clear()
    if request.path.startswith("/api/"):
        return jsonify(error="login required"), 401
    if account is None:
        return redirect(url_for("auth.setup"))
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None))


def _holds(account: Account | None) -> bool:
    return account is not None and session.get("uid") == account.id and \
        session.get("pwv") == password_version(account.password_hash)


def logged_in() -> bool:
    """This request comes from the household (or the login is turned off)."""
    return not services().settings.ui.login_required or _holds(_account())


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if not target:
        return url_for("review.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("review.index")
    return target


def _login_limit() -> str:
    n = services().settings.ui.login_attempts_per_minute
    return f"{n} per minute;{n * 10} per hour"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> ResponseReturnValue:
    account = _account()
    if account is None:
        return redirect(url_for("auth.setup"))
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        if username == account.username and check_password_hash(account.password_hash, password):
            session.clear()
            session.permanent = True
            session["uid"], session["pwv"] = account.id, password_version(account.password_hash)
            return redirect(_safe_next(request.args.get("next")))
        error = "Wrong name or password."
    return render_template("login.html", error=error, username=account.username), 401 if error else 200


@bp.route("/setup", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def setup() -> ResponseReturnValue:
    """First run: choose the household password (only while no account exists)."""
    if _account() is not None:
        return redirect(url_for("auth.login"))
    error = None
    if request.method == "POST":
        password = request.form.get("password", "")
        if len(password) < MIN_PASSWORD_LENGTH:
            error = f"Use at least {MIN_PASSWORD_LENGTH} characters."
        elif password != request.form.get("confirm", ""):
            error = "The two passwords differ."
        else:
            account = Account(username=services().settings.ui.username, password_hash=generate_password_hash(password))
            db().add(account)
            db().commit()
            session.clear()
            session.permanent = True
            session["uid"], session["pwv"] = account.id, password_version(account.password_hash)
            flash("Password set. Welcome to piccl.")
            return redirect(url_for("review.index"))
    return render_template("setup.html", error=error, username=services().settings.ui.username)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    app.before_request(require_login)
