"""What one submission costs the database and Redis, counted so that a regression fails
(issue #15: web and worker CPU per submission; a poll of a queued submission is one query).

Counts are SQL statements as Django sends them, savepoints left out (the test's own
transaction adds them; production's outermost transaction does not log BEGIN/COMMIT).
"""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import models as account_models
from accounts import ratelimit
from accounts.models import ApiToken
from courses.models import Exercise
from courses.services import exercise_publish
from submissions import selectors, services
from submissions.models import Submission

pytestmark = pytest.mark.django_db

URL = "/api/exercises/tensor-broadcast/submissions"
# One read of in-flight and charged rows, the INSERT (the exercise and its current version
# are remembered for a second per process); PostgreSQL adds the user row's SELECT … FOR
# UPDATE (SQLite's IMMEDIATE transaction already serialises writers, so it sends no lock).
SUBMIT_STATEMENTS = 2 + (connection.vendor == "postgresql")
SUPERSEDE_STATEMENTS = 1  # an older submission still queued: the UPDATE that supersedes it
EXERCISE_STATEMENTS = 1  # the exercise and its current version, once a second per process
# The claim (UPDATE … RETURNING the row, its exercise and version), the verdict's UPDATE.
WORKER_STATEMENTS = 2


@pytest.fixture(autouse=True)
def no_broker():
    with mock.patch("submissions.services.enqueue") as enqueue, mock.patch(
        "submissions.services.workers.online", return_value={"cpu": 1, "gpu": 0}
    ):
        yield enqueue


@pytest.fixture(autouse=True)
def fresh_token_cache():
    account_models.forget_cached_tokens()
    selectors.forget_exercises()
    yield
    account_models.forget_cached_tokens()
    selectors.forget_exercises()


def statements(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries
            if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def auth(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


def submit(client: Client, token: str, code: str = "c = a + b"):
    return client.post(URL, data=json.dumps({"code": code}), content_type="application/json",
                       **auth(token))


def test_submit_to_stored_verdict_stays_within_its_statements(
    course, alice_token, django_capture_on_commit_callbacks
):
    client = Client()
    assert client.get("/api/exercises/tensor-broadcast/submissions", **auth(alice_token)
                      ).status_code == 200  # the token is now cached, as for any client
    assert selectors.exercise_to_submit("tensor-broadcast") is not None  # as for a class
    with CaptureQueriesContext(connection) as web, \
            django_capture_on_commit_callbacks(execute=True):
        response = submit(client, alice_token)
    assert response.status_code == 202, response.content
    pk = response.json()["id"]
    with CaptureQueriesContext(connection) as worker:
        sub = services.submission_claim(pk, "w1")
        assert sub is not None
        assert services.submission_finish(sub, {"outcome": "passed", "score": 1.0,
                                                "max_score": 1.0})
    assert len(statements(web)) <= SUBMIT_STATEMENTS, statements(web)
    assert len(statements(worker)) <= WORKER_STATEMENTS, statements(worker)
    assert Submission.objects.get(pk=pk).outcome == "passed"
    # With the exercise not remembered (the first submit of the second): one more.
    selectors.forget_exercises()
    with CaptureQueriesContext(connection) as cold:
        assert submit(client, alice_token, "c = b + a").status_code == 202
    assert len(statements(cold)) <= SUBMIT_STATEMENTS + EXERCISE_STATEMENTS, statements(cold)


def test_a_second_submit_supersedes_within_the_same_statements(
    course, alice_token, django_capture_on_commit_callbacks
):
    client = Client()
    first = submit(client, alice_token).json()["id"]
    with CaptureQueriesContext(connection) as web:
        response = submit(client, alice_token, "c = b + a")
    assert response.status_code == 202
    assert len(statements(web)) <= SUBMIT_STATEMENTS + SUPERSEDE_STATEMENTS, statements(web)
    older = Submission.objects.get(pk=first)
    assert older.outcome == "rejected" and older.verdict["superseded_by"] == response.json()["id"]


def test_a_running_submission_still_refuses_a_second_one(course, alice_token):
    client = Client()
    first = submit(client, alice_token).json()["id"]
    assert services.submission_claim(first, "w1") is not None
    response = submit(client, alice_token, "c = b + a")
    assert response.status_code == 429 and response.json()["reason"] == "busy"
    assert Submission.objects.filter(user__username="alice").count() == 1  # no new row


def test_a_poll_of_a_queued_submission_is_one_query(course, alice_token):
    client = Client()
    pk = submit(client, alice_token).json()["id"]
    with CaptureQueriesContext(connection) as poll:
        response = client.get(f"/api/submissions/{pk}", **auth(alice_token))
    assert response.status_code == 200
    assert response.json()["status"] == "queued" and response.json()["code"] == "c = a + b"
    assert len(statements(poll)) == 1, statements(poll)
    # The same JSON as the ORM's row gives (the precompiled read builds it by hand).
    from submissions.api import verdict_json

    row = Submission.objects.select_related("exercise", "version").get(pk=pk)
    assert response.json() == {**verdict_json(row), "code": row.code}
    # Graded: the same read carries the verdict's columns, then the latest regrade is
    # read (two queries, once per verdict), and the JSON is still the ORM row's.
    sub = services.submission_claim(pk, "w1")
    assert sub is not None
    services.submission_finish(sub, {"outcome": "passed", "score": 1.0, "max_score": 1.0,
                                     "checks": [{"name": "c", "passed": True}]})
    with CaptureQueriesContext(connection) as graded:
        data = client.get(f"/api/submissions/{pk}", **auth(alice_token)).json()
    assert data["outcome"] == "passed" and data["score"] == 1.0
    assert data["checks"] == [{"name": "c", "passed": True}]
    assert len(statements(graded)) == 2, statements(graded)
    row = Submission.objects.select_related("exercise", "version").get(pk=pk)
    assert data == {**verdict_json(row), "code": row.code}


def test_the_claim_returns_the_row_the_orm_reads(course, alice_token):
    """The claim's UPDATE … RETURNING gives what select_related would: every column of
    the row (the claim's new status, tries and worker included), its exercise, its version
    (the worker grades against that version's spec)."""
    pk = submit(Client(), alice_token).json()["id"]
    with CaptureQueriesContext(connection) as claim:
        sub = services.submission_claim(pk, "w@h")
    assert sub is not None and len(statements(claim)) == 1, statements(claim)
    again = Submission.objects.select_related("exercise", "version").get(pk=pk)
    for model, got, read in ((Submission, sub, again), (Exercise, sub.exercise, again.exercise),
                             (type(again.version), sub.version, again.version)):
        for field in model._meta.concrete_fields:
            assert getattr(got, field.attname) == getattr(read, field.attname), field.name
    assert sub.status == "running" and sub.tries == 1 and sub.worker == "w@h"
    assert sub.created_at.tzinfo is not None and sub.started_at.tzinfo is not None
    assert sub.version.spec == again.version.spec
    assert services.submission_claim(pk, "other@h") is None  # taken: nothing returned


def test_a_new_current_version_is_submitted_to_at_once(course, alice_token):
    """The exercise cache forgets an exercise when its current version changes (the
    signal in this process; other processes within EXERCISE_CACHE_SECONDS)."""
    client = Client()
    first = submit(client, alice_token).json()
    exercise = Exercise.objects.get(slug="tensor-broadcast")
    spec = exercise.current_version.spec
    changed = type(spec).from_dict({**spec.to_dict(), "seed": (spec.seed or 0) + 1})
    newer = exercise_publish(exercise=exercise, spec=changed)
    assert newer.number == first["version"] + 1
    second = submit(client, alice_token, "c = b + a").json()
    assert second["version"] == newer.number
    assert Submission.objects.get(pk=second["id"]).version_id == newer.pk
    # Each caller gets its own instances: changing one leaves the cache as it was.
    mine = selectors.exercise_to_submit("tensor-broadcast")
    assert mine is not None
    mine.slug = "changed"
    mine.current_version.number = -1
    again = selectors.exercise_to_submit("tensor-broadcast")
    assert again.slug == "tensor-broadcast" and again.current_version.number == newer.number
    assert selectors.exercise_to_submit("no-such-exercise") is None


def test_a_poll_of_someone_elses_submission_is_still_refused(course, alice_token, bob):
    pk = submit(Client(), alice_token).json()["id"]
    bob_token = ApiToken.objects.issue(bob)
    response = Client().get(f"/api/submissions/{pk}", **auth(bob_token))
    assert response.status_code == 404


# --- The token cache ----------------------------------------------------------------------


def test_a_cached_token_costs_no_query(alice, alice_token):
    assert ApiToken.objects.user_for(alice_token) == alice
    with CaptureQueriesContext(connection) as again:
        user = ApiToken.objects.user_for(alice_token)
    assert user == alice and len(again.captured_queries) == 0
    assert user is not ApiToken.objects.user_for(alice_token)  # a copy per request


def test_a_reissued_token_stops_working_at_once(course, alice):
    old = ApiToken.objects.issue(alice)
    client = Client()
    assert client.get("/api/submissions/1", **auth(old)).status_code == 404  # known user
    new = ApiToken.objects.issue(alice)
    assert client.get("/api/submissions/1", **auth(old)).status_code == 401
    assert client.get("/api/submissions/1", **auth(new)).status_code == 404


def test_a_deactivated_user_is_refused_at_once(course, alice, alice_token):
    client = Client()
    assert client.get("/api/submissions/1", **auth(alice_token)).status_code == 404
    alice.is_active = False
    alice.save()
    assert client.get("/api/submissions/1", **auth(alice_token)).status_code == 401


def test_a_token_changed_by_another_process_is_forgotten(alice, alice_token):
    """Another web process re-issued the token: its signal ran there, not here. The
    generation it bumped in Redis makes this process forget its cache at its next look."""
    assert ApiToken.objects.user_for(alice_token) == alice
    ApiToken.objects.filter(user=alice).update(key_hash="0" * 64)  # no signal here
    assert ApiToken.objects.user_for(alice_token) == alice  # still cached
    ratelimit.client().set(account_models.TOKEN_GENERATION_KEY, "another process's")
    account_models._generation[0] = float("-inf")  # as if a second had passed
    assert ApiToken.objects.user_for(alice_token) is None


def generation() -> bytes | None:
    return ratelimit.client().get(account_models.TOKEN_GENERATION_KEY)


def test_a_change_is_announced_only_once_committed(alice, alice_token,
                                                   django_capture_on_commit_callbacks):
    """Announced inside the transaction, another process could look, read the old row
    again (the change not yet visible to it) and keep it a minute."""
    before = generation()
    with django_capture_on_commit_callbacks(execute=True):
        ApiToken.objects.issue(alice)
        assert generation() == before  # not committed yet: nothing announced
    moved = generation()
    assert moved != before
    with django_capture_on_commit_callbacks(execute=True):
        alice.is_active = False
        alice.save()
        assert generation() == moved
    assert generation() != moved


def test_an_answer_read_before_a_clear_is_not_kept(alice, alice_token):
    """The token's row is read; before the answer is stored, another thread of this
    process sees a changed generation and clears the cache. The answer may predate the
    change, so it is handed to its own request but not kept for the next."""

    def clear_meanwhile(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        ratelimit.client().set(account_models.TOKEN_GENERATION_KEY, "changed elsewhere")
        account_models._generation[0] = float("-inf")
        account_models._check_generation(account_models.time.monotonic())
        return result

    with connection.execute_wrapper(clear_meanwhile):
        assert ApiToken.objects.user_for(alice_token) == alice
    assert account_models._cache == {}
    assert ApiToken.objects.user_for(alice_token) == alice  # read again, now kept
    assert len(account_models._cache) == 1


def test_an_announcement_redis_missed_is_sent_at_the_next_look(
    alice, alice_token, monkeypatch, django_capture_on_commit_callbacks
):
    before = generation()
    real = ratelimit.client

    def away() -> None:
        raise ConnectionError("redis is away")

    monkeypatch.setattr(ratelimit, "client", away)
    with django_capture_on_commit_callbacks(execute=True):
        ApiToken.objects.issue(alice)  # committed; the announcement fails
    monkeypatch.setattr(ratelimit, "client", real)
    assert generation() == before  # the others have not heard yet
    account_models._generation[0] = float("-inf")  # as if a second had passed
    ApiToken.objects.user_for(alice_token)
    assert generation() != before


def test_a_redis_restarted_empty_cannot_repeat_a_generation(django_capture_on_commit_callbacks,
                                                            alice):
    """A counter would start again at 1 after a restart: a process that saw 1 before and
    has not looked since would keep its cache. Each generation is random instead."""
    seen = set()
    for _ in range(3):
        ratelimit.client().delete(account_models.TOKEN_GENERATION_KEY)  # restarted empty
        with django_capture_on_commit_callbacks(execute=True):
            alice.save()
        seen.add(generation())
    assert len(seen) == 3 and None not in seen


def test_a_login_keeps_the_cache(alice, alice_token, django_capture_on_commit_callbacks):
    """Each login saves last_login; a whole class logging in would wipe every process's
    cache every second if that counted as a change."""
    assert Client().login(username="alice", password="alice-pass-123")  # a prior login
    assert ApiToken.objects.user_for(alice_token) == alice
    before = generation()
    with django_capture_on_commit_callbacks(execute=True):
        assert Client().login(username="alice", password="alice-pass-123")
    assert generation() == before and len(account_models._cache) == 1


def test_with_redis_away_each_look_forgets_the_cache(alice, alice_token, monkeypatch):
    """The cache's expiry is long (a minute); what keeps a change made in another process
    from living that long when Redis is away is that a failed look forgets the cache."""
    assert ApiToken.objects.user_for(alice_token) == alice
    ApiToken.objects.filter(user=alice).update(key_hash="0" * 64)  # no signal here

    def away() -> None:
        raise ConnectionError("redis is away")

    monkeypatch.setattr(ratelimit, "client", away)
    assert ApiToken.objects.user_for(alice_token) == alice  # looked less than a second ago
    account_models._generation[0] = float("-inf")  # as if a second had passed
    assert ApiToken.objects.user_for(alice_token) is None


def test_the_cache_outlives_a_students_pause_between_submissions(alice, alice_token,
                                                                 monkeypatch):
    """A student submits every few seconds; with 2 web processes each one sees a given
    token about half as often. A 5 s expiry made nearly every such request pay a query."""
    now = [1000.0]
    monkeypatch.setattr(account_models.time, "monotonic", lambda: now[0])
    assert ApiToken.objects.user_for(alice_token) == alice
    now[0] += 20.0  # the generation is looked at again (unchanged): the cache stays
    with CaptureQueriesContext(connection) as later:
        assert ApiToken.objects.user_for(alice_token) == alice
    assert len(later.captured_queries) == 0


def test_unknown_tokens_are_not_cached():
    for n in range(50):
        assert ApiToken.objects.user_for(f"guess-{n}") is None
    assert account_models._cache == {}


# --- PostgreSQL: hot statements prepared ---------------------------------------------------


def test_postgresql_keeps_a_hot_statement_prepared(alice):
    """config/settings.py: server-side binding, prepare after 5 runs (PostgreSQL's parse and
    plan skipped for a submission's hot queries). CI runs tests/web on PostgreSQL too."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's (CI runs this file there too)")
    for _ in range(6):
        assert Submission.objects.filter(user=alice).count() == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("submissions_submission" in text for text in prepared), prepared


# --- Redis: the rate limit and the long-poll slot in one round trip -----------------------


def test_rate_and_slot_share_one_round_trip(alice):
    rate = ratelimit.Rate(2, 60)
    ratelimit.reset("bench-submit", str(alice.pk), rate)
    key = ratelimit.slot_key("bench-poll", str(alice.pk))
    ratelimit.client().delete(key)
    with mock.patch.object(ratelimit.redis.client.Pipeline, "execute",
                           autospec=True, side_effect=ratelimit.redis.client.Pipeline.execute
                           ) as execute:
        decision, token = ratelimit.hit_and_slot("bench-submit", str(alice.pk), rate,
                                                 "bench-poll", str(alice.pk), 1, 30)
    assert execute.call_count == 1
    assert decision.allowed and token is not None
    with ratelimit.held_slot("bench-poll", str(alice.pk), token) as held:
        assert held and ratelimit.client().zcard(key) == 1
        # The cap is 1: a second submit is counted but gets no slot.
        second, none = ratelimit.hit_and_slot("bench-submit", str(alice.pk), rate,
                                              "bench-poll", str(alice.pk), 1, 30)
        assert second.allowed and none is None
    assert ratelimit.client().zcard(key) == 0  # released
    third, token = ratelimit.hit_and_slot("bench-submit", str(alice.pk), rate,
                                          "bench-poll", str(alice.pk), 1, 30)
    assert not third.allowed and third.retry_after >= 1
    with ratelimit.held_slot("bench-poll", str(alice.pk), token):
        pass
    assert ratelimit.client().zcard(key) == 0
    ratelimit.reset("bench-submit", str(alice.pk), rate)


# --- A token request to the API skips the cookie machinery --------------------------------


def test_a_token_api_request_goes_past_sessions_and_messages(course, alice_token):
    from submissions import api

    seen: dict[str, object] = {}
    real = api._visible_submission

    def spy(request, pk):
        seen["session"] = hasattr(request, "session")
        seen["messages"] = hasattr(request, "_messages")
        return real(request, pk)

    pk = submit(Client(), alice_token).json()["id"]
    with mock.patch.object(api, "_visible_submission", spy):
        response = Client().get(f"/api/submissions/{pk}", **auth(alice_token))
    assert response.status_code == 200
    assert seen == {"session": False, "messages": False}
    assert "Cookie" not in response.get("Vary", "") and not response.cookies


def test_the_same_api_with_a_session_still_has_one(course, alice):
    client = Client()
    client.force_login(alice)
    response = client.get("/api/exercises/tensor-broadcast/submissions")
    assert response.status_code == 200 and response.json() == {"submissions": []}
    # A token on a page (not /api/) keeps the whole chain: the page sees its session.
    token = ApiToken.objects.issue(alice)
    page = Client().get("/", **auth(token))
    assert page.status_code in (200, 302)


# --- The verdict's notice wakes a waiting submit with what was stored ---------------------


def _finished(course, token: str) -> Submission:
    pk = submit(Client(), token).json()["id"]
    reader = Submission.objects.select_related("exercise", "version").get(pk=pk)  # queued
    sub = services.submission_claim(pk, "w1")
    assert sub is not None
    ratelimit.client().delete(services.done_key(pk))  # REDIS_URL is this test's own db
    assert services.submission_finish(sub, {"outcome": "failed", "score": 0.0,
                                            "max_score": 1.0, "checks": []})
    return reader


def test_a_waiting_reader_takes_the_verdict_from_the_notice(course, alice_token):
    from submissions import api

    reader = _finished(course, alice_token)
    assert reader.status == Submission.Status.QUEUED
    with CaptureQueriesContext(connection) as woken:
        got = api._wait_graded(reader, 2.0)
    assert got.status == "graded" and got.outcome == "failed" and got.score == 0.0
    assert got.verdict["checks"] == []
    assert woken.captured_queries == []
    ratelimit.client().delete(services.done_key(reader.pk))


def test_a_bare_notice_still_reads_the_row(course, alice_token):
    from submissions import api

    reader = _finished(course, alice_token)
    key = services.done_key(reader.pk)
    ratelimit.client().delete(key)
    services.notify_done(reader.pk)  # as the sweeper sends it: no columns
    with CaptureQueriesContext(connection) as woken:
        got = api._wait_graded(reader, 2.0)
    assert got.outcome == "failed" and len(woken.captured_queries) == 1
    ratelimit.client().delete(key)
    for forged in ("graded", "[]", '{"status": "queued"}', "{"):
        assert services.stored_from_notice(forged, reader) is None


def test_a_notice_left_for_an_older_row_with_the_same_id_is_not_taken(course, alice_token):
    """Ids can come back (a restored database, SQLite after a rollback): a notice names its
    row by `created_at` too, and one for another row makes the reader read its own."""
    from submissions import api

    reader = _finished(course, alice_token)
    Submission.objects.filter(pk=reader.pk).update(status="queued", outcome="", verdict=None)
    reader.created_at = reader.created_at.replace(microsecond=(reader.created_at.microsecond
                                                               + 1) % 1_000_000)
    got = api._wait_graded(reader, 0.3)  # the notice is not its own: it reads the row
    assert got.status == "queued"
    ratelimit.client().delete(services.done_key(reader.pk))
