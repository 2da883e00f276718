"""Administration, for admins only: users and their roles, background jobs."""
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from webapp import htmx
from webapp.admin import bp
from webapp.admin import jobs as job_admin
from webapp.forms import page_number
from webapp.models import ROLES
from webapp.templating import role_label
from webapp.services import Forbidden, NotFound, ServiceError
from webapp.services import users as user_service


def admin_required(view):
    """:raise 403: for a logged-in user who is not an admin."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@bp.get("/users")
@admin_required
def users():
    query = request.args.get("q", "").strip()[:100]
    pagination = user_service.search_users(query, page_number(request.args),
                                           current_app.config["USERS_PER_PAGE"])
    return htmx.render("admin/users.html", "admin/_users_table.html",
                       pagination=pagination, query=query, roles=ROLES)


@bp.post("/users/<int:user_id>/role")
@admin_required
def set_role(user_id: int):
    """Change a role; htmx swaps the row, a plain form returns to the list.

    :raise 404: unknown user. :raise 422: unknown role or an admin demoting themselves.
    """
    try:
        user = user_service.set_role(user_id, request.form.get("role", ""), current_user.id)
    except ServiceError as err:
        # Only a refused role goes back into the row; the error handlers answer the
        # rest (unknown user 404; demoted by another admin a moment ago 403; 422).
        if isinstance(err, (NotFound, Forbidden)) or not htmx.is_fragment_request():
            raise
        row = render_template("admin/_user_row.html", u=user_service.get_user(user_id),
                              roles=ROLES, error=err.message)
        return row, 422
    if htmx.is_fragment_request():
        return render_template("admin/_user_row.html", u=user, roles=ROLES,
                               saved=True)
    flash(_("%(name)s is now %(role)s.", name=user.username, role=role_label(user.role)), "success")
    back = request.referrer if _same_site(request.referrer) else url_for("admin.users")
    return htmx.see_other(back)


def _same_site(url: str | None) -> bool:
    return bool(url) and urlsplit(url).netloc == request.host


@bp.get("/jobs")
@admin_required
def jobs():
    """Failed background jobs, newest first, and how many wait or run."""
    return _jobs_page()


def _jobs_page():
    return htmx.render("admin/jobs.html", "admin/_jobs.html", counts=job_admin.counts(),
                       pagination=job_admin.failed(page_number(request.args),
                                                   current_app.config["JOBS_PER_PAGE"]))


@bp.post("/jobs/<job_id>/requeue")
@admin_required
def requeue_job(job_id: str):
    """Put a failed job back on the queue; htmx gets the list again, a form the page.

    :raise 404: unknown job. :raise 422: the job has not failed (any more).
    """
    job = job_admin.requeue(job_id)
    flash(_("Job %(id)s is back on the queue.", id=job.id), "success")
    return _after_requeue()


@bp.post("/jobs/requeue")
@admin_required
def requeue_jobs():
    """Put every failed job back on the queue."""
    done = job_admin.requeue_all()
    flash(ngettext("%(num)d job is back on the queue.", "%(num)d jobs are back on the queue.",
                   done) if done else _("No failed job to requeue."), "success")
    return _after_requeue()


def _after_requeue():
    if htmx.is_fragment_request():
        return _jobs_page()
    return htmx.see_other(url_for("admin.jobs"))
