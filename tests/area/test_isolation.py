"""A client's user sees only that client: logged in as Acme (A), every URL, form and export of
the area is tried with Bravo's (B) ids (calls, messages, recordings, users, ladders, campaign
results and their recordings, promises to pay), and a recording path with ../: each is 404,
and nothing of B's is in any body."""

from __future__ import annotations

import io
import re
from typing import Any

from area_world import B_MARK, World, csrf
from campaign_world import A_DNC, B_DNC, CENTER_DNC
from openpyxl import load_workbook

B_VALUES = (B_MARK, "0799000001", "0799000002", "bravo", "3337654321")


def assert_nothing_of_b(body: str, where: str) -> None:
    for value in B_VALUES:
        assert value.lower() not in body.lower(), f"{value!r} of client B in {where}"


def fill(path: str, world: World) -> str:
    """A route's path with B's ids in every placeholder."""
    values = {
        "linkedid": "b.1",
        "user_id": str(world.ids["b_admin"]),
        "ladder": "bravo-urgent",
        "token": "not-a-token",
        "result": f"A{world.ids['b_appointments'][0]}",
        "attempt_id": str(world.ids["b_attempts"][0]),
        "person_id": "bsecret",
        "period_id": "999999",  # no period of A's
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


async def test_every_url_with_client_b_ids_is_404_and_shows_nothing_of_b(world: World) -> None:
    client = await world.login("admin@acme.example")
    token = await csrf(client, "/area/calls")
    tried = 0
    for route in world.area.app().router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path") or ""
        if "{" not in path or route.method not in ("GET", "POST"):
            continue
        url = "/area" + fill(path, world)
        if route.method == "GET":
            response = await client.get(url, allow_redirects=False)
        else:
            data = {"csrf": token, "note": "x", "handled": "1", "read": "1", "name0": "X"}
            data.update({"number0": "0612345678", "password": "p" * 12, "again": "p" * 12})
            data.update({"reason": "other", "amount": "10", "paid_on": "2026-11-20"})
            response = await client.post(url, data=data, allow_redirects=False)
        body = await response.text()
        assert response.status == 404, (route.method, url, response.status)
        assert_nothing_of_b(body, f"{route.method} {url}")
        tried += 1
    # calls, recording, read, handled, ladders, team remove, reset (2); a campaign result, its
    # contest, a campaign call's recording, a promise's payment
    assert tried >= 12
    await client.close()


async def test_pages_lists_and_exports_show_only_a(world: World) -> None:
    client = await world.login("admin@acme.example")
    for url in (
        "/area/calls",
        "/area/calls?q=Caller",  # B has a "Bravosecret Caller"
        "/area/calls?q=0799",
        "/area/calls?outcome=messages&unread=1",
        "/area/calls?part=rows",
        "/area/calls.csv",
        "/area/calls.csv?q=07",
        "/area/dashboard",
        "/area/settings",
        "/area/audit",
        "/area/team",
        "/area/account",
        "/area/campaigns",
        "/area/billing",
        "/area/billing?month=2026-11",
        "/area/billing/statement.csv?month=2026-11",
        "/area/billing/statement/print?month=2026-11",
        "/area/billing/payments",
    ):
        response = await client.get(url)
        assert response.status == 200, url
        assert_nothing_of_b(await response.text(), url)
    calls = await (await client.get("/area/calls")).text()
    assert "Luca Verdi" in calls and "Said Name" in calls  # A's own calls are there
    campaigns = await (await client.get("/area/campaigns")).text()
    assert A_DNC in campaigns and B_DNC not in campaigns and CENTER_DNC not in campaigns
    workbook = load_workbook(io.BytesIO(await (await client.get("/area/calls.xlsx")).read()))
    cells = " ".join(str(c.value) for row in workbook.active.iter_rows() for c in row)
    assert "Luca Verdi" in cells
    assert_nothing_of_b(cells, "calls.xlsx")
    await client.close()


async def test_recordings_outside_the_messages_folder_are_never_served(world: World) -> None:
    client = await world.login("admin@acme.example")
    for url in (
        "/area/calls/a.evil/recording",  # A's own call whose stored path climbs out
        "/area/calls/..%2F..%2F..%2Fetc%2Fpasswd/recording",
        "/area/calls/../../../etc/passwd/recording",
        "/area/calls/b.1/recording",
        "/area/static/../../../../etc/passwd",
    ):
        response = await client.get(url, allow_redirects=False)
        assert response.status in (404, 403), url
        assert "root:" not in await response.text()
    assert (await client.get("/area/calls/a.2/recording")).status == 200  # its own is served
    await client.close()


async def test_the_unread_count_and_live_news_are_per_client(world: World) -> None:
    client = await world.login("admin@acme.example")
    stream = await client.get("/area/events")
    hello = await stream.content.readuntil(b"\n\n")
    assert b'"unread": 3' in hello  # a.1 (an outcome), a.2 and a.evil (recordings)
    await world.area.tell_client("bravo")  # a call of B's is stored: A hears nothing of it
    await world.area.tell_client("acme")
    news: Any = await stream.content.readuntil(b"\n\n")
    assert b'"kind": "call"' in news and b'"unread": 3' in news
    stream.close()
    await client.close()
