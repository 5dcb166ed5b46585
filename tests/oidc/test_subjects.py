"""Subject identifiers: pairwise per municipality, stable, linkable only with the nif scope."""

from __future__ import annotations

import pytest

from api.context import Context
from identity.oidc import OidcClient
from infra.errors import InvalidInput
from tests.oidc.conftest import Browser, Rp, add_client, code_for, make_principal, redeem
from tests.oidc.test_flow import id_token_claims


def sub_for(browser: Browser, ctx: Context, municipality: str, client_id: str,
            scope: str = "openid", **kwargs: object) -> dict:
    rp = add_client(ctx, municipality, client_id=client_id, **kwargs)
    browser.login_as(make_principal(municipality))
    code, _ = code_for(browser, rp, scope=scope)
    return id_token_claims(browser.http, redeem(browser.http, rp, code).json()["id_token"])[1]


def test_pairwise_sub_differs_between_towns_and_is_stable_within_one(
        browser: Browser, ctx: Context, demo_code: str, second_code: str) -> None:
    tax = sub_for(browser, ctx, demo_code, "tax-app")
    sports = sub_for(browser, ctx, demo_code, "sports-app")
    other_town = sub_for(browser, ctx, second_code, "other-town-app")
    assert tax["sub"] == sports["sub"]           # one town hall, one identifier
    assert other_town["sub"] != tax["sub"]       # two town halls cannot link the citizen
    assert "12345678Z" not in (tax["sub"], other_town["sub"])
    # Stable: a new login session later yields the same identifier.
    browser.login_as(make_principal(demo_code))
    again = sub_for(browser, ctx, demo_code, "later-app")
    assert again["sub"] == tax["sub"]


def test_only_the_nif_scope_links_a_person_across_towns(
        browser: Browser, ctx: Context, demo_code: str, second_code: str) -> None:
    a = sub_for(browser, ctx, demo_code, "a-app", scope="openid nif",
                scopes=["openid", "nif"])
    b = sub_for(browser, ctx, second_code, "b-app", scope="openid nif",
                scopes=["openid", "nif"])
    assert a["sub"] != b["sub"] and a["nif"] == b["nif"] == "12345678Z"
    without = sub_for(browser, ctx, second_code, "c-app", scope="openid profile",
                      scopes=["openid", "profile"])
    assert "nif" not in without


def test_a_client_not_allowed_the_nif_scope_does_not_get_it(
        browser: Browser, ctx: Context, demo_code: str) -> None:
    claims = sub_for(browser, ctx, demo_code, "limited", scope="openid nif profile",
                     scopes=["openid", "profile"])
    assert "nif" not in claims and claims["given_name"] == "María"


def test_no_client_gets_a_subject_shared_across_towns(
        browser: Browser, ctx: Context, demo_code: str, second_code: str) -> None:
    """A deployment-wide ``sub`` would link a person across town halls without ``nif``."""
    with pytest.raises(InvalidInput, match="pairwise"):
        add_client(ctx, demo_code, client_id="pub-a", subject_type="public")
    # Registrations stored as ``public`` earlier get pairwise subjects all the same.
    a = add_client(ctx, demo_code, client_id="old-a")
    b = add_client(ctx, second_code, client_id="old-b")
    with ctx.transaction() as s:
        for client_id in ("old-a", "old-b"):
            row = s.get(OidcClient, client_id)
            assert row is not None
            row.subject_type = "public"
    sub_a, sub_b = sub_of(browser, a), sub_of(browser, b)
    assert sub_a != sub_b
    assert sub_a == sub_for(browser, ctx, demo_code, "new-a")["sub"]
    meta = browser.http.get("/.well-known/openid-configuration").json()
    assert meta["subject_types_supported"] == ["pairwise"]


def sub_of(browser: Browser, rp: Rp) -> str:
    browser.login_as(make_principal(rp.municipality))
    code, _ = code_for(browser, rp, scope="openid")
    token = redeem(browser.http, rp, code).json()["id_token"]
    return str(id_token_claims(browser.http, token)[1]["sub"])


def test_nif_is_granted_only_when_registered_by_name(
        browser: Browser, ctx: Context, demo_code: str) -> None:
    claims = sub_for(browser, ctx, demo_code, "defaults", scope="openid nif profile")
    assert "nif" not in claims and claims["given_name"] == "María"
    named = sub_for(browser, ctx, demo_code, "named", scope="openid nif",
                    scopes=["openid", "nif"])
    assert named["nif"] == "12345678Z"
