"""Who may register, see and search what: isolation between municipalities and people."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx

from identity.sessions import Principal
from tests.registry.conftest import OTHER_NIF, entry_body, principal, submit


def test_citizen_sees_only_own_entries_in_own_municipality(
    login: Callable[[Principal], httpx.Client], citizen: httpx.Client, demo_code: str,
    second_code: str,
) -> None:
    mine = submit(citizen, demo_code).json()
    other = login(principal(demo_code, nif=OTHER_NIF, name="Otro Vecino"))
    theirs = submit(other, demo_code).json()

    listed = citizen.get(f"/registry/{demo_code}/entries").json()["entries"]
    assert [e["id"] for e in listed] == [mine["id"]]
    assert citizen.get(f"/registry/{demo_code}/entries/{theirs['id']}").status_code == 404
    assert citizen.get(f"/registry/{demo_code}/entries/{theirs['id']}/receipt.pdf"
                       ).status_code == 404
    assert other.get(mine["receipt"]["pdf"]).status_code == 404

    # The same person logged in at another town hall sees nothing of this one.
    elsewhere = login(principal(second_code))
    r = elsewhere.get(f"/registry/{demo_code}/entries/{mine['id']}")
    assert r.status_code == 403 and r.json()["code"] == "registry_forbidden"
    assert elsewhere.get(f"/registry/{demo_code}/entries").status_code == 403
    assert elsewhere.get(f"/registry/{second_code}/entries").json()["entries"] == []
    # ...and a session of one municipality cannot submit to another.
    assert submit(elsewhere, demo_code).status_code == 403
    # An entry id of municipality A does not resolve under B, even for B's registrar.
    b_registrar = login(principal(second_code, capacity="employee", nif="00000002W",
                                  roles=("registrar",)))
    assert b_registrar.get(f"/registry/{second_code}/entries/{mine['id']}").status_code == 404


def test_non_registrar_employee_cannot_register_for_others(
    login: Callable[[Principal], httpx.Client], demo_code: str,
) -> None:
    clerk = login(principal(demo_code, capacity="employee", nif="00000003A", roles=()))
    presenter = {"id_type": "NIF", "id_number": OTHER_NIF, "name": "Vecino Presencial"}
    r = submit(clerk, demo_code, entry_body(presenter=presenter))
    assert r.status_code == 403 and r.json()["code"] == "registry_forbidden"
    assert submit(clerk, demo_code).status_code == 403
    exit_body = entry_body(destination_unit=None, interested=[presenter])
    assert submit(clerk, demo_code, exit_body, kind="exits").status_code == 403
    assert clerk.get(f"/registry/{demo_code}/entries", params={"party": OTHER_NIF}
                     ).status_code == 403
    # A citizen cannot name other people as presenter or interested parties either.
    citizen = login(principal(demo_code))
    assert submit(citizen, demo_code, entry_body(interested=[presenter])).status_code == 403
    assert submit(citizen, demo_code, exit_body, kind="exits").status_code == 403


def test_registrar_registers_in_person_and_searches(
    login: Callable[[Principal], httpx.Client], registrar: httpx.Client, demo_code: str,
) -> None:
    presenter = {"id_type": "NIF", "id_number": OTHER_NIF, "name": "Vecino Presencial"}
    company = {"id_type": "CIF", "id_number": "B12345674", "name": "Construcciones Demo SL"}
    r = submit(registrar, demo_code, entry_body(presenter=presenter, interested=[company],
                                                sia_code="998877", destination_unit="LA0099903"))
    assert r.status_code == 201, r.text
    e = r.json()
    assert e["presenter"] == presenter and e["interested"] == [company]
    assert e["registrar"]["id_number"] == "00000001R" and e["registrar"]["office"] == "O00099901"
    submit(registrar, demo_code, entry_body(presenter=presenter))
    out = submit(registrar, demo_code, entry_body(destination_unit=None, origin_unit="LA0099901",
                                                   interested=[presenter]), kind="exits")
    assert out.status_code == 201 and out.json()["number"].endswith("/S/000001")

    def search(**params: str) -> list[str]:
        r = registrar.get(f"/registry/{demo_code}/entries", params=params)
        assert r.status_code == 200, r.text
        return [x["number"] for x in r.json()["entries"]]

    year = date.today().year
    assert search(number=e["number"]) == [e["number"]]
    assert search(sia="998877") == [e["number"]]
    assert search(unit="LA0099903") == [e["number"]]
    assert search(party="B12345674") == [e["number"]]
    assert len(search(party=OTHER_NIF)) == 3
    assert search(kind="S") == [out.json()["number"]]
    assert len(search(**{"from": f"{year - 1}-01-01", "to": f"{year + 1}-12-31"})) == 3
    assert search(**{"from": f"{year + 1}-01-01"}) == []

    # The in-person presenter, logging in later, finds the entries and the exit.
    presenter_login = login(principal(demo_code, nif=OTHER_NIF, name="Vecino Presencial"))
    mine = presenter_login.get(f"/registry/{demo_code}/entries").json()["entries"]
    assert len(mine) == 3
    # A representative of the company sees the company's entry.
    rep = login(principal(demo_code, capacity="representative", nif="44444444A",
                          entity_cif="B12345674", entity_name="Construcciones Demo SL"))
    assert [x["id"] for x in rep.get(f"/registry/{demo_code}/entries").json()["entries"]] == [
        e["id"]]
