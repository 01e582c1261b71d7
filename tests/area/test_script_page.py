"""The script's texts in the client's area: its admin rewrites what the operator says, checked
(placeholders, length), versioned and audited; the console's card reads the newest."""

from __future__ import annotations

from area_world import World, post_form

from ivr.scripts import texts
from ivr.selfservice.store import audit_log


async def test_the_admin_rewrites_what_the_operator_says(world: World) -> None:
    client = await world.login("admin@acme.example")
    page = await (await client.get("/area/script")).text()
    assert "Acme, buongiorno, sono {operator}." in page
    bad = await post_form(client, "/area/script", {"say-who": "Ciao {nobody}"})
    assert bad.status == 422 and 'data-step="who"' in await bad.text()
    good = await post_form(client, "/area/script", {"say-who": "Acme, sono {operator}: mi dica."})
    assert good.status == 303
    says = await texts.says_for(world.services.sessions, "acme")
    assert says == {"who": "Acme, sono {operator}: mi dica."}
    page = await (await client.get("/area/script")).text()
    assert 'data-version="1"' in page and "mi dica" in page
    log = await audit_log(world.services.sessions, "acme")
    assert any(e.action == "script.edit" for e in log)
    await client.close()


async def test_a_member_and_a_client_without_a_script_have_no_page(world: World) -> None:
    member = await world.login("member@acme.example")
    assert (await member.get("/area/script", allow_redirects=False)).status == 404
    other = await world.login("admin@bravosecret.example")
    assert (await other.get("/area/script", allow_redirects=False)).status == 404
    await member.close()
