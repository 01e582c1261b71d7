"""The client's people in its area: presence set there (what the operator's card then shows),
and the put-through attempts of the client's calls, only its own."""

from __future__ import annotations

from datetime import timedelta

from area_world import NOW, World, post_form

from ivr.putthrough import store
from ivr.putthrough.models import ANNOUNCED, DIRECT


async def attempt(world: World, client: str, person: str, outcome: str, mode: str) -> int:
    sessions = world.services.sessions
    found = await store.start(
        sessions, linkedid=f"{client}.pt", client_id=client, operator="op1", person_id=person,
        person_name=person.title(), mode=mode, at=NOW - timedelta(minutes=5), number="+39061",
    )  # fmt: skip
    await store.finish(sessions, found, outcome, NOW - timedelta(minutes=4), held_seconds=42.4)
    return found


async def test_a_person_sets_a_meeting_and_the_center_sees_it(world: World) -> None:
    browser = await world.login("member@acme.example")
    page = await (await browser.get("/area/people")).text()
    assert "Aldo Acme (titolare)" in page and 'data-presence="available"' in page
    assert "Persone" in page  # the menu and the page in the user's language (Italian)

    response = await post_form(
        browser, "/area/people/aldo/presence",
        {"status": "meeting", "until": "15:00", "note": "riunione  con\n il notaio"},
        form_page="/area/people",
    )  # fmt: skip
    assert response.status == 303

    presence = await store.presence_of(world.services.sessions, "acme", NOW)
    aldo = presence["aldo"]
    assert aldo.status == "meeting" and aldo.set_by == "member@acme.example"
    assert aldo.until is not None and aldo.until.astimezone().utcoffset() is not None
    assert aldo.until == NOW.replace(hour=14)  # 15:00 in Rome (UTC+1 in November)
    assert aldo.note == "riunione con il notaio"  # one line: spaces and breaks folded
    page = await (await browser.get("/area/people")).text()
    assert 'data-presence="meeting"' in page and "fino alle 15:00" in page
    # Past the meeting's end the person is available again, without anyone saying so.
    later = await store.presence_of(world.services.sessions, "acme", NOW + timedelta(hours=5))
    assert later["aldo"].status == "available"

    away = await post_form(browser, "/area/people/bea/presence", {"status": "away"},
                           form_page="/area/people")  # fmt: skip
    assert away.status == 303
    bea = (await store.presence_of(world.services.sessions, "acme", NOW))["bea"]
    assert bea.status == "away" and bea.until == NOW.replace(hour=23)  # midnight in Rome

    wrong = await post_form(browser, "/area/people/aldo/presence",
                            {"status": "meeting", "until": "half past"},
                            form_page="/area/people")  # fmt: skip
    assert wrong.status == 422 and "HH:MM" in await wrong.text()
    nobody = await post_form(browser, "/area/people/zeno/presence", {"status": "away"},
                             form_page="/area/people")  # fmt: skip
    assert nobody.status == 404


async def test_the_area_shows_the_clients_own_put_through_attempts(world: World) -> None:
    mine = await attempt(world, "acme", "aldo", "declined", ANNOUNCED)
    theirs = await attempt(world, "bravo", "secret", "accepted", DIRECT)
    browser = await world.login("member@acme.example")

    page = await (await browser.get("/area/people")).text()

    assert f'data-attempt="{mine}" data-outcome="declined"' in page
    assert "rifiutata" in page and "annunciata" in page and "42 s" in page
    assert f'data-attempt="{theirs}"' not in page and "Secret" not in page
