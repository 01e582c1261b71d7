"""The webhook in the client's area: set by an admin (refused at once where the floor would
refuse it), its secret shown once and never again, each delivery with its answer; members
do not see the page."""

from __future__ import annotations

import re

from area_world import NOW, World, post_form

from ivr.dispatch import store
from ivr.selfservice.store import audit_log


async def test_an_admin_sets_the_webhook_and_sees_the_secret_once(world: World) -> None:
    client = await world.login("admin@acme.example")
    refused = await post_form(client, "/area/webhook", {"url": "https://127.0.0.1/hook"})
    assert refused.status == 422
    assert "127.0.0.1 is a loopback address" in await refused.text()
    refused = await post_form(client, "/area/webhook", {"url": "http://93.184.216.34/hook"})
    assert refused.status == 422 and "use https" in await refused.text()

    made = await post_form(client, "/area/webhook", {"url": "https://hooks.acme.example/in"})
    page = await made.text()
    found = re.search(r'id="secret">[^<]*<code>([^<]+)</code>', page)
    assert made.status == 200 and found is not None
    secret = found[1]
    hook = await store.hook_of(world.services.sessions, "acme")
    assert hook is not None and hook.secret == secret and hook.url.endswith("/in")
    again = await (await client.get("/area/webhook")).text()
    assert secret not in again and 'id="hook-set"' in again  # never shown again

    # A new address keeps the secret; the admin's change is in the audit log.
    moved = await post_form(client, "/area/webhook", {"url": "https://hooks.acme.example/v2"})
    assert moved.status == 303
    hook = await store.hook_of(world.services.sessions, "acme")
    assert hook is not None and hook.secret == secret and hook.url.endswith("/v2")
    log = await audit_log(world.services.sessions, "acme")
    assert [e.action for e in log].count("webhook") == 2
    assert all(secret not in str(e.detail) for e in log)

    await store.add_delivery(
        world.services.sessions, "acme",
        store.Delivery("acme:a.1|urgent", "a.1", 1, NOW, hook.url, 500, "<b>down</b>",
                       "the receiver answered 500"),
    )  # fmt: skip
    shown = await (await client.get("/area/webhook")).text()
    assert 'data-status="500"' in shown and "&lt;b&gt;down&lt;/b&gt;" in shown
    await client.close()


async def test_a_member_has_no_webhook_page(world: World) -> None:
    client = await world.login("member@acme.example")
    for response in (
        await client.get("/area/webhook", allow_redirects=False),
        await post_form(client, "/area/webhook", {"url": "https://x.example/"}, "/area/calls"),
        await post_form(client, "/area/webhook/remove", {}, "/area/calls"),
    ):
        assert response.status == 404  # as if there were no such page
    assert await store.hook_of(world.services.sessions, "acme") is None
    await client.close()
