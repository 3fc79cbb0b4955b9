"""OIDC login and resource-link launch against a test LMS: accounts, roles, landing, and
every way a launch is refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth import get_user_model
from fake_lms import INSTRUCTOR, LEARNER, TA, FakeLMS, begin, launch, new_key

from dashboard.access import default_course, role_of
from lti.models import Context, Identity, LineItem, Passback

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


def test_login_redirects_to_the_lms_with_state_and_nonce(client, lms):
    response = client.get("/lti/login/", {"iss": lms.issuer, "login_hint": "h",
                                          "client_id": lms.client_id,
                                          "lti_message_hint": "m"})
    assert response.status_code == 302
    query = parse_qs(urlparse(response["Location"]).query)
    assert query["client_id"] == [lms.client_id]
    assert query["redirect_uri"] == ["http://testserver/lti/launch/"]
    assert query["response_mode"] == ["form_post"] and query["scope"] == ["openid"]
    assert query["login_hint"] == ["h"] and query["lti_message_hint"] == ["m"]
    assert len(query["nonce"][0]) >= 32 and query["state"][0].startswith("state-")
    # The state is bound to this browser by a cookie.
    assert any(name.endswith(query["state"][0]) for name in client.cookies)


def test_a_learner_launch_makes_a_student_of_the_mapped_course(client, lms):
    response = launch(client, lms, sub="s-42", roles=[LEARNER])
    assert response.status_code == 302
    assert response["Location"] == "/lessons/tensors/"  # the course's first lesson
    identity = Identity.objects.get(platform=lms.platform, sub="s-42")
    user = identity.user
    assert (user.first_name, user.last_name, user.email) == ("Lin", "Wei", "lin@example.edu")
    assert not user.has_usable_password()
    assert role_of(user, default_course()) == "student"
    assert Context.objects.get(platform=lms.platform).context_id == "course-101"
    # Logged in: the lesson opens; the dashboard does not.
    assert client.get("/lessons/tensors/").status_code == 200
    assert client.get("/dashboard/pytorch/").status_code == 403
    assert client.get("/dashboard/pytorch/gradebook/").status_code == 403
    # The link has a line item: the student's passback waits for a graded Submit.
    item = LineItem.objects.get()
    assert item.url == lms.base + "/lineitems/7" and item.lesson.slug == "tensors"
    assert Passback.objects.get(user=user).status == "idle"


def test_the_same_sub_is_the_same_account(client, lms):
    launch(client, lms, sub="s-1")
    client.logout()
    launch(client, lms, sub="s-1")
    assert Identity.objects.filter(sub="s-1").count() == 1
    assert get_user_model().objects.filter(lti_identities__sub="s-1").count() == 1


def test_a_sub_never_matches_an_existing_local_account(client, lms):
    local = get_user_model().objects.create_user("lin", email="lin@example.edu")
    launch(client, lms, sub="s-9", preferred_username="lin")
    user = Identity.objects.get(sub="s-9").user
    assert user.pk != local.pk and user.username != "lin"


@pytest.mark.parametrize(("roles", "role"), [
    ([INSTRUCTOR], "instructor"),
    ([TA], "ta"),
    ([INSTRUCTOR, TA], "ta"),
    (["Instructor"], "instructor"),  # the short form LTI 1.3 allows
    ([LEARNER], "student"),
])
def test_role_from_the_roles_claim(client, lms, roles, role):
    response = launch(client, lms, sub="u", roles=roles)
    assert response.status_code == 302
    user = Identity.objects.get(sub="u").user
    assert role_of(user, default_course()) == role
    home = client.get("/dashboard/pytorch/")
    assert home.status_code == (403 if role == "student" else 200)
    # Only students are sent grades.
    assert Passback.objects.filter(user=user).exists() == (role == "student")


def test_the_lms_role_is_followed_at_each_launch(client, lms):
    launch(client, lms, sub="u", roles=[INSTRUCTOR])
    client.logout()
    launch(client, lms, sub="u", roles=[LEARNER])
    assert role_of(Identity.objects.get(sub="u").user, default_course()) == "student"


def test_a_role_without_access_is_refused(client, lms):
    response = launch(client, lms, sub="u", roles=[
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"])
    assert response.status_code == 403
    assert b"gives no access" in response.content
    assert not Identity.objects.exists()
    assert "_auth_user_id" not in client.session


def test_custom_parameters_choose_the_lesson_or_the_exercise(client, lms):
    response = launch(client, lms, custom={"exercise": "tensor-cat"}, link_id="l-cat")
    assert response["Location"] == "/lessons/tensors/#exercise-tensor-cat"
    assert LineItem.objects.get(resource_link_id="l-cat").exercise.slug == "tensor-cat"
    client.logout()
    response = launch(client, lms, custom={"lesson": "nope"}, link_id="l-x")
    assert response.status_code == 403 and b"nope" in response.content


def test_a_wrong_signature_is_refused(client, lms):
    state, nonce = begin(client, lms)
    other_pem, _ = new_key()  # signed by another key, claiming the LMS's kid
    token = lms.id_token(nonce, pem=other_pem)
    response = client.post("/lti/launch/", {"id_token": token, "state": state})
    assert response.status_code == 400
    assert b"signature does not match" in response.content
    assert not Identity.objects.exists() and "_auth_user_id" not in client.session


def test_an_unknown_kid_is_refused(client, lms):
    state, nonce = begin(client, lms)
    response = client.post("/lti/launch/", {"id_token": lms.id_token(nonce, kid="nope"),
                                            "state": state})
    assert response.status_code == 400 and b"signature does not match" in response.content


def test_a_wrong_nonce_is_refused(client, lms):
    state, _nonce = begin(client, lms)
    response = client.post("/lti/launch/", {"id_token": lms.id_token("made-up"),
                                            "state": state})
    assert response.status_code == 400
    assert b"already used or has expired" in response.content
    assert not Identity.objects.exists()


def test_a_nonce_works_once(client, lms):
    state, nonce = begin(client, lms)
    token = lms.id_token(nonce)
    assert client.post("/lti/launch/", {"id_token": token, "state": state}).status_code == 302
    client.logout()
    client.cookies[f"lti1p3-{state}"] = state  # the state cookie replayed too
    again = client.post("/lti/launch/", {"id_token": token, "state": state})
    assert again.status_code == 400 and b"already used" in again.content


def test_a_launch_without_its_login_state_is_refused(client, lms):
    state, nonce = begin(client, lms)
    client.cookies.clear()  # another browser: no state cookie
    response = client.post("/lti/launch/", {"id_token": lms.id_token(nonce), "state": state})
    assert response.status_code == 400 and b"no state cookie" in response.content


def test_an_unknown_issuer_is_refused(client, lms, db):
    stranger = FakeLMS().start()
    try:
        response = client.get("/lti/login/", {"iss": stranger.issuer, "login_hint": "h",
                                              "client_id": stranger.client_id})
        assert response.status_code == 400
        assert b"LMS login request was refused" in response.content
        # A launch signed by an unregistered LMS, with a real state of ours.
        state, nonce = begin(client, lms)
        response = client.post("/lti/launch/", {"id_token": stranger.id_token(nonce),
                                                "state": state})
        assert response.status_code == 400
        assert b"not registered with this site" in response.content
    finally:
        stranger.stop()


def test_an_unregistered_deployment_is_refused(client, lms):
    state, nonce = begin(client, lms)
    token = lms.id_token(nonce, **{CLAIM + "deployment_id": "other-deployment"})
    response = client.post("/lti/launch/", {"id_token": token, "state": state})
    assert response.status_code == 400 and b"deployment" in response.content


def test_an_expired_token_is_refused(client, lms):
    state, nonce = begin(client, lms)
    response = client.post("/lti/launch/", {"id_token": lms.id_token(nonce, exp=1),
                                            "state": state})
    assert response.status_code == 400 and not Identity.objects.exists()


def test_jwks_serves_the_public_key_only(client, db):
    data = client.get("/lti/jwks/").json()
    (key,) = data["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["kid"]
    assert "d" not in key and "p" not in key  # no private parts
    assert client.get("/lti/jwks/").json() == data  # made once, kept


def test_over_https_the_login_checks_cookies_then_sets_cross_site_ones(client, lms):
    """In an LMS iframe (HTTPS) a page first checks that the browser keeps cookies, then
    the login goes on with SameSite=None; Secure cookies (docs/lti.md)."""
    from fake_lms import login_params

    check = client.get("/lti/login/", login_params(lms), secure=True)
    assert check.status_code == 200
    assert "lti1p3_new_window" in check.content.decode()
    assert "script-src 'unsafe-inline'" in check["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in check["Content-Security-Policy"]  # no LMS allowed
    go = client.get("/lti/login/", {**login_params(lms), "lti1p3_new_window": "1"},
                    secure=True)
    assert go.status_code == 302 and go["Location"].startswith(lms.base + "/auth?")
    cookies = [c for c in go.cookies.values() if c.key.startswith("lti1p3-")]
    assert cookies and all(c["samesite"] == "None" and c["secure"] for c in cookies)
    assert any(c.key == "lti1p3-session-id" for c in cookies)  # binds the launch too
    # The launch over HTTPS completes with those cookies...
    from fake_lms import state_and_nonce

    state, nonce = state_and_nonce(go["Location"])
    token = lms.id_token(nonce)
    ok = client.post("/lti/launch/", {"id_token": token, "state": state}, secure=True)
    assert ok.status_code == 302 and ok["Location"] == "/lessons/tensors/"
    # ...and not from a browser without them.
    client.logout()
    client.cookies.clear()
    state, nonce = state_and_nonce(client.get("/lti/login/", {
        **login_params(lms), "lti1p3_new_window": "1"}, secure=True)["Location"])
    client.cookies.clear()
    lost = client.post("/lti/launch/", {"id_token": lms.id_token(nonce), "state": state},
                       secure=True)
    assert lost.status_code == 400 and b"no state cookie" in lost.content


def test_a_local_account_with_the_generated_name_is_left_alone(client, lms):
    from lti.services import _username

    taken = _username(lms.platform, "s-7", {"email": "lin@example.edu"})
    local = get_user_model().objects.create_user(taken)
    launch(client, lms, sub="s-7")
    user = Identity.objects.get(sub="s-7").user
    assert user.pk != local.pk and user.username.startswith("lti-")


def test_the_admin_never_shows_the_tool_key(client, db):
    from django.contrib.auth.models import User

    from lti.keys import current_key

    key = current_key()
    client.force_login(User.objects.create_superuser("root", password="x"))
    assert client.get("/admin/lti/platform/").status_code == 200
    assert client.get("/admin/lti/toolkey/").status_code == 404
    page = client.get("/admin/").content.decode()
    assert "Platforms" in page and key.private_key_pem[40:80] not in page
