"""/admin/jobs: failed background jobs with their errors, requeued by an admin.

On the real Redis (TEST_REDIS_URL, or the run's own redis-server), with jobs failed by
an RQ SimpleWorker; without Redis the page says there is no queue. Who may see the
page: tests/test_permissions.py.
"""
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq import SimpleWorker

from tests import jobs as test_jobs
from tests.conftest import HX, PASSWORD, clean_up, make_app
from tests.fixtures.jobs import queue, rq_app  # noqa: F401
from tests.test_admin import admin_client  # noqa: F401 (logged in to this module's app)
from webapp import jobs
from webapp.extensions import db


@pytest.fixture
def app(rq_app):
    return rq_app


def fail(app, func, *args):
    """Enqueue ``func(*args)`` without retries and let a SimpleWorker fail it; its job."""
    q = queue(app)
    job = q.enqueue(func, *args)
    SimpleWorker([q], connection=q.connection).work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    return job


def work(app) -> None:
    q = queue(app)
    SimpleWorker([q], connection=q.connection).work(burst=True)


def page(response) -> str:
    return response.get_data(as_text=True)


class TestList:
    def test_failed_jobs_newest_first_with_their_error_and_traceback(
            self, app, admin_client, make_user):
        ana = make_user("ana")
        older = fail(app, test_jobs.fail, ana.id)
        newer = fail(app, test_jobs.fail_without_bio, ana.id)
        html = page(admin_client.get("/admin/jobs"))
        assert "<html" in html
        assert html.index(f'id="job-{newer.id}"') < html.index(f'id="job-{older.id}"')
        assert f"<code>tests.jobs.fail({ana.id})</code>" in html
        assert f"<code>tests.jobs.fail_without_bio({ana.id})</code>" in html
        row = html[html.index(f'id="job-{older.id}"'):html.index("</tr>", html.index(
            f'id="job-{older.id}"'))]
        assert f"RuntimeError: this job fails for user {ana.id}\n" in row
        # The whole traceback, behind a disclosure.
        assert re.search(r"<details><summary>Traceback</summary><pre>Traceback \(most recent "
                         r"call last\):.*in fail\n.*</pre></details>", row, re.S)
        assert re.search(r"Failed: <strong>2</strong>", html)

    def test_counts_say_what_waits_runs_and_waits_for_a_retry(self, app, admin_client, make_user):
        ana = make_user("ana")
        jobs.enqueue(test_jobs.fail, ana.id)  # with retries: fails, then waits for one
        work(app)
        jobs.enqueue(test_jobs.set_bio, ana.id, "Later")  # queued, not run
        html = page(admin_client.get("/admin/jobs"))
        assert "Queued: <strong>1</strong>" in html
        assert "Waiting for a retry: <strong>1</strong>" in html
        assert "Running: <strong>0</strong>" in html and "Failed: <strong>0</strong>" in html
        assert "No failed jobs." in html and "Requeue all" not in html

    def test_the_fragment_is_the_list_alone(self, app, admin_client, make_user):
        job = fail(app, test_jobs.fail, make_user("ana").id)
        fragment = page(admin_client.get("/admin/jobs", headers=HX))
        assert "<html" not in fragment and fragment.lstrip().startswith('<section id="jobs">')
        assert f'id="job-{job.id}"' in fragment

    def test_pages(self, app, admin_client, make_user):
        app.config["JOBS_PER_PAGE"] = 2
        ana = make_user("ana")
        made = [fail(app, test_jobs.fail, ana.id) for _ in range(3)]
        first, second = page(admin_client.get("/admin/jobs")), page(
            admin_client.get("/admin/jobs?page=2"))
        assert first.count('class="failed-job"') == 2 and second.count('class="failed-job"') == 1
        assert {j.id for j in made} == set(re.findall(r'id="job-([\w-]+)"', first + second))
        assert 'hx-target="#jobs"' in first and "page=2" in first

    def test_the_admin_area_links_to_it(self, admin_client):
        assert 'href="/admin/jobs"' in page(admin_client.get("/admin/users"))
        assert 'href="/admin/users"' in page(admin_client.get("/admin/jobs"))

    def test_in_russian(self, app, admin_client, make_user):
        fail(app, test_jobs.fail, make_user("ana").id)
        admin_client.post("/language", data={"lang": "ru"})
        html = page(admin_client.get("/admin/jobs"))
        assert "Фоновые задачи" in html and "Вернуть в очередь" in html


class TestRequeue:
    def test_a_fixed_job_requeued_runs_to_the_end(self, app, admin_client, make_user):
        ana = make_user("ana")
        job = fail(app, test_jobs.fail_without_bio, ana.id)
        ana.bio = "Now there is one"
        db.session.commit()
        response = admin_client.post(f"/admin/jobs/{job.id}/requeue", headers=HX)
        assert response.status_code == 200
        html = page(response)
        assert html.lstrip().startswith('<section id="jobs">')
        assert f"Job {job.id} is back on the queue." in html  # out of band, into #flashes
        assert f'id="job-{job.id}"' not in html and "Queued: <strong>1</strong>" in html
        work(app)
        assert job.get_status(refresh=True) == "finished"
        assert queue(app).failed_job_registry.count == 0

    def test_without_javascript_back_to_the_page_with_a_message(self, app, admin_client, make_user):
        job = fail(app, test_jobs.fail, make_user("ana").id)
        response = admin_client.post(f"/admin/jobs/{job.id}/requeue")
        assert response.status_code == 303 and response.headers["Location"] == "/admin/jobs"
        assert f"Job {job.id} is back on the queue." in page(admin_client.get("/admin/jobs"))
        assert job.get_status(refresh=True) == "queued"

    def test_a_job_that_has_not_failed_is_refused(self, app, admin_client, make_user):
        job = jobs.enqueue(test_jobs.set_bio, make_user("ana").id, "Queued")
        response = admin_client.post(f"/admin/jobs/{job.id}/requeue", headers=HX)
        assert response.status_code == 422
        assert "This job has not failed (it is queued now): nothing was requeued." in page(response)
        assert queue(app).count == 1  # not queued twice

    def test_requeued_twice_the_second_is_refused(self, app, admin_client, make_user):
        job = fail(app, test_jobs.fail, make_user("ana").id)
        assert admin_client.post(f"/admin/jobs/{job.id}/requeue").status_code == 303
        again = admin_client.post(f"/admin/jobs/{job.id}/requeue")
        assert again.status_code == 422 and "it is queued now" in page(again)
        assert queue(app).count == 1

    @pytest.mark.parametrize("job_id", ["no-such-job", "x" * 101, "a b", "..%2F..%2Fetc"])
    def test_an_unknown_job_is_404(self, app, admin_client, job_id):
        assert admin_client.post(f"/admin/jobs/{job_id}/requeue").status_code == 404
        assert queue(app).count == 0

    def test_requeue_all(self, app, admin_client, make_user):
        ana = make_user("ana")
        made = [fail(app, test_jobs.fail, ana.id) for _ in range(2)]
        response = admin_client.post("/admin/jobs/requeue", headers=HX)
        assert response.status_code == 200
        assert "2 jobs are back on the queue." in page(response)
        assert {j.get_status(refresh=True) for j in made} == {"queued"}
        none_left = admin_client.post("/admin/jobs/requeue")
        assert none_left.status_code == 303
        assert "No failed job to requeue." in page(admin_client.get("/admin/jobs"))

    def test_csrf_is_enforced(self, app, csrf_app, make_user):
        make_user("root2", role="admin")
        job = fail(app, test_jobs.fail, make_user("ana").id)
        client = csrf_app.test_client()
        token = page(client.get("/auth/login")).split(
            'name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post("/auth/login", data={"login": "root2", "password": PASSWORD,
                                         "csrf_token": token})
        for url in (f"/admin/jobs/{job.id}/requeue", "/admin/jobs/requeue"):
            assert client.post(url).status_code == 400
        assert job.get_status(refresh=True) == "failed"
        token = page(client.get("/admin/jobs")).split('name="csrf_token" value="')[1].split('"')[0]
        ok = client.post(f"/admin/jobs/{job.id}/requeue", headers={"X-CSRFToken": token, **HX})
        assert ok.status_code == 200 and job.get_status(refresh=True) == "queued"


class TestWithoutRedis:
    @pytest.fixture
    def embedded(self, database_url, rq_app):
        """The embedded set-up beside this module's app (same database): no Redis."""
        app = make_app(database_url, REDIS_URL=None)
        yield app
        clean_up(app)

    def test_the_page_says_there_is_no_queue_and_requeue_finds_nothing(
            self, embedded, make_user):
        make_user("root", role="admin")
        client = embedded.test_client()
        client.post("/auth/login", data={"login": "root", "password": PASSWORD})
        html = page(client.get("/admin/jobs"))
        assert "There is no job queue: without Redis (REDIS_URL)" in html
        assert "Queued:" not in html
        assert client.post("/admin/jobs/anything/requeue").status_code == 404
        assert client.post("/admin/jobs/requeue").status_code == 303
        assert "No failed job to requeue." in page(client.get("/admin/jobs"))


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(job_id=st.one_of(st.text(max_size=120), st.sampled_from(
    ["..", "%2e%2e", "a/b", "\x00", "x" * 5000, "job-" + "é" * 50])))
def test_any_job_id_in_the_path_is_refused_cleanly(app, admin_client, job_id):
    response = admin_client.post(f"/admin/jobs/{quote(job_id, safe='')}/requeue", headers=HX)
    assert response.status_code < 500, (job_id, response.status_code)
    assert queue(app).count == 0
