"""The provider's few HTML pages: consent, logout confirmation and errors.

Pages are small, server-rendered and bilingual (Spanish first). Every value is
HTML-escaped; forms carry a single-use CSRF token. The routes add headers that
forbid framing and caching.
"""

from __future__ import annotations

from html import escape

from identity.oidc.claims import SCOPE_DESCRIPTIONS

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;"
    "color:#1b1b1b}h1{font-size:1.4rem}li{margin:.4rem 0}.en{color:#555;font-size:.9em}"
    "button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.8rem}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="es"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def consent_page(*, interaction_id: str, csrf: str, client_name: str,
                 municipality_name: str, scopes: list[str]) -> str:
    items = "".join(
        f'<li>{escape(es)}<br><span class="en" lang="en">{escape(en)}</span></li>'
        for es, en in (SCOPE_DESCRIPTIONS.get(s, (s, s)) for s in scopes)
    )
    action = f"/oidc/interaction/{escape(interaction_id)}/consent"
    body = (
        f"<h1>{escape(client_name)} solicita acceso a sus datos</h1>"
        f'<p class="en" lang="en">{escape(client_name)} asks for access to your data</p>'
        f"<p>Aplicación de {escape(municipality_name)}. Si continúa, recibirá:</p>"
        f'<p class="en" lang="en">An application of {escape(municipality_name)}. '
        "If you continue it will receive:</p>"
        f"<ul>{items}</ul>"
        f'<form method="post" action="{action}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<button type="submit" name="decision" value="allow">Permitir / Allow</button>'
        '<button type="submit" name="decision" value="deny">Rechazar / Deny</button>'
        "</form>"
    )
    return _page("Consentimiento / Consent", body)


def logout_confirm_page(csrf: str) -> str:
    body = (
        "<h1>¿Cerrar la sesión en eLocal?</h1>"
        '<p class="en" lang="en">Log out of eLocal?</p>'
        '<form method="post" action="/oidc/logout/confirm">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<button type="submit">Cerrar sesión / Log out</button></form>'
    )
    return _page("Cerrar sesión / Log out", body)


def logged_out_page() -> str:
    return _page("Sesión cerrada / Logged out",
                 "<h1>Ha cerrado la sesión</h1>"
                 '<p class="en" lang="en">You have logged out.</p>')


def error_page(error: str, description: str) -> str:
    body = (
        "<h1>No se puede continuar</h1>"
        '<p class="en" lang="en">The request cannot continue.</p>'
        f"<p><code>{escape(error)}</code>: {escape(description)}</p>"
        "<p>Vuelva a la aplicación e inténtelo de nuevo. "
        '<span class="en" lang="en">Go back to the application and try again.</span></p>'
    )
    return _page("Error", body)
