"""On call in the client's area: who is on call now and until when; the admin adds a cover
period, which takes precedence over the rotation at once (and on the operator's card, which
reads the same); a member sees but cannot change it."""

from __future__ import annotations

from datetime import timedelta

from area_world import NOW, World, post_form

from ivr.oncall import store as oncall
from ivr.routing.oncall import on_duty


async def test_the_admin_adds_a_cover_period(world: World) -> None:
    client = world.services.rules.current.clients["acme"]
    assert client.on_call is not None
    rotation = on_duty(client.on_call, NOW)  # from the rules, at the test's clock
    assert rotation is not None and rotation.until is not None
    browser = await world.login("admin@acme.example")
    page = await (await browser.get("/area/on-call")).text()
    assert client.people[rotation.person].name in page.split('id="on-call-now"', 1)[1][:300]

    other = next(p for p in client.people if p != rotation.person)
    today = NOW.astimezone(client.on_call.zone).date()
    bad = await post_form(browser, "/area/on-call", {
        "person": other, "start": today.isoformat(), "end": (today - timedelta(days=1)).isoformat(),
    })  # fmt: skip
    assert bad.status == 422
    added = await post_form(browser, "/area/on-call", {
        "person": other, "start": today.isoformat(), "end": today.isoformat(), "why": "cover",
    })  # fmt: skip
    assert added.status == 303
    duty = await oncall.duty_now(world.services.sessions, client, NOW)
    assert duty is not None and (duty.person, duty.why) == (other, "cover")
    assert duty.until is not None
    assert duty.until.astimezone(client.on_call.zone).date() == today + timedelta(days=1)
    page = await (await browser.get("/area/on-call")).text()
    assert client.people[other].name in page.split('id="on-call-now"', 1)[1][:300]
    [(ident, _)] = await oncall.periods_of(world.services.sessions, "acme")
    gone = await post_form(browser, f"/area/on-call/{ident}/remove", {}, "/area/on-call")
    assert gone.status == 303
    assert await oncall.duty_now(world.services.sessions, client, NOW) == rotation

    member = await world.login("member@acme.example")
    assert (await member.get("/area/on-call")).status == 200
    refused = await post_form(member, "/area/on-call", {
        "person": other, "start": today.isoformat(), "end": today.isoformat(),
    }, "/area/on-call")  # fmt: skip
    assert refused.status == 404
    assert await oncall.periods_of(world.services.sessions, "acme") == []
    await member.close()
    await browser.close()
