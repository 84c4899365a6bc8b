"""The tracker adopts Signalboard as docs/ADOPTING.md says, and gets what the guide promises."""

import csv
import io
import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import checks
from django.test import Client
from streams.models import Action

from tracker.models import Bug, Issue, Project, User
from tracker_site.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people():
    return {
        "ada": User.objects.create_superuser("ada", password="x"),  # staff
        "bo": User.objects.create_user("bo", password="x"),
        "cy": User.objects.create_user("cy", password="x"),
    }


@pytest.fixture
def engine():
    return Project.objects.create(name="Engine")


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def row_ids(html):
    return [int(pk) for pk in re.findall(r'<tr id="action-(\d+)"', html)]


def test_the_tracker_passes_its_checks():
    assert checks.run_checks(include_deployment_checks=False) == []


def test_live_tables_without_an_asgi_server_are_named(settings):
    settings.ASGI_APPLICATION = None
    assert [message.id for message in checks.run_checks()] == ["streams.W002"]


def test_an_admin_edit_is_recorded_with_its_request_and_its_diff(people, engine):
    issue = Issue.objects.create(project=engine, title="Slow saves", assignee=people["bo"])
    response = logged_in(people["ada"]).post(
        f"/admin/tracker/issue/{issue.pk}/change/",
        {"project": engine.pk, "title": "Slow saves", "state": "fixed", "assignee": people["bo"].pk},
        REMOTE_ADDR="198.51.100.7",
        HTTP_USER_AGENT="Tracker test browser",
    )
    assert response.status_code == 302
    moved = Action.objects.get(verb="moved")
    assert (moved.actor_id, moved.actor_name) == (people["ada"].pk, "ada")
    assert (moved.ip, moved.user_agent) == ("198.51.100.7", "Tracker test browser")
    assert moved.changes == {"state": ["open", "fixed"]}
    assert (moved.object_id, moved.owner_id) == (str(issue.pk), people["bo"].pk)


def test_each_member_sees_what_happens_to_their_own_issues(people, engine):
    mine = Issue.objects.create(project=engine, title="Bo's", assignee=people["bo"])
    Issue.objects.create(project=engine, title="Cy's", assignee=people["cy"])
    bo_rows = row_ids(logged_in(people["bo"]).get("/assigned/").content.decode())
    assert bo_rows == list(Action.objects.filter(object_id=str(mine.pk)).values_list("pk", flat=True))
    # Staff pick whose; a member cannot pick anyone else.
    staff_page = logged_in(people["ada"]).get("/assigned/?assignee=bo").content.decode()
    assert row_ids(staff_page) == bo_rows
    cy_page = logged_in(people["cy"]).get("/assigned/?assignee=bo").content.decode()
    assert not set(row_ids(cy_page)) & set(bo_rows)


def test_staff_only_verbs_stay_with_staff_on_page_and_csv(people, engine):
    doomed = Issue.objects.create(project=engine, title="Duplicate", assignee=people["cy"])
    doomed.delete()
    deleted = Action.objects.get(verb="deleted")
    for name, sees in (("ada", True), ("bo", False)):
        client = logged_in(people[name])
        assert (deleted.pk in row_ids(client.get("/activity/").content.decode())) is sees
        export = client.get("/activity/export.csv")
        rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
        assert rows[0][:5] == ["timestamp", "actor", "verb", "object", "target"]
        assert ("deleted" in [row[2] for row in rows[1:]]) is sees
        assert ("opened" in [row[2] for row in rows[1:]]) is True


def test_rows_say_what_kind_of_object_they_are_about(people, engine):
    Issue.objects.create(project=engine, title="Slow saves")
    Bug.objects.create(project=engine, title="Crash on start", severity=1)
    page = logged_in(people["bo"]).get("/activity/").content.decode()
    kinds = re.findall(r'<td class="col-object_type" data-label="Kind">([^<]*)</td>', page)
    assert kinds == ["bug", "issue"]


def test_anonymous_visitors_are_sent_to_log_in_and_tables_are_in_the_navigation(people):
    assert Client().get("/activity/").url.startswith("/accounts/login/")
    page = logged_in(people["bo"]).get("/activity/").content.decode()
    assert 'href="/assigned/"' in page and 'id="activity-table"' in page
    assert "htmx" in page and "streams/live.js" in page


@database_sync_to_async
def session_cookie(user):
    return logged_in(user).cookies["sessionid"].value


async def open_socket(user, query):
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
    if user is not None:
        headers.append((b"cookie", f"sessionid={await session_cookie(user)}".encode()))
    socket = WebsocketCommunicator(application, f"/ws/live/?{query}", headers=headers)
    connected, code = await socket.connect()
    return socket, connected, code


async def test_a_new_issue_reaches_its_assignees_open_table_and_no_one_elses(people, engine):
    bo_socket, connected, _ = await open_socket(people["bo"], "table=assigned")
    assert connected
    cy_socket, _, _ = await open_socket(people["cy"], "table=assigned")

    issue = await database_sync_to_async(Issue.objects.create)(
        project=engine, title="Live one", assignee=people["bo"]
    )

    frame = await bo_socket.receive_from(timeout=5)
    opened = await database_sync_to_async(Action.objects.get)(verb="opened", object_id=str(issue.pk))
    assert f'<tr id="action-{opened.pk}"' in frame and "Live one" in frame
    assert 'id="assigned-rows" hx-swap-oob="afterbegin"' in frame
    assert await cy_socket.receive_nothing(timeout=0.3)
    await bo_socket.disconnect()
    await cy_socket.disconnect()


@pytest.mark.parametrize(
    ("who", "query", "code"), [(None, "table=activity", 4401), ("bo", "table=nope", 4400)]
)
async def test_the_socket_refuses_with_a_reason(people, who, query, code):
    socket, _, _ = await open_socket(people.get(who), query)
    closing = await socket.receive_output(timeout=3)
    assert (closing["type"], closing["code"]) == ("websocket.close", code)


def test_what_the_guide_shows_is_recorded(people, engine):
    """docs/ADOPTING.md, "What gets recorded": Ada opens an issue for Bo, fixes it, files a bug."""
    from streams import acting_as

    ada, bo = people["ada"], people["bo"]
    with acting_as(ada, ip="198.51.100.7", user_agent="tracker-test"):
        issue = Issue.objects.create(project=engine, title="Slow saves", assignee=bo)
        issue.state = "fixed"
        issue.save()
        Bug.objects.create(project=engine, title="Crash on start", severity=1)
    rows = [
        (a.actor_name, a.verb, a.object_repr, a.target_repr, a.owner_id, a.changes, a.object_type.model, a.ip)
        for a in Action.objects.order_by("id")
    ]
    assert rows == [
        ("ada", "opened", "Slow saves", "Engine", bo.pk, None, "issue", "198.51.100.7"),
        ("ada", "moved", "Slow saves", "", bo.pk, {"state": ["open", "fixed"]}, "issue", "198.51.100.7"),
        ("ada", "filed", "Crash on start", "Engine", None, None, "bug", "198.51.100.7"),
    ]
