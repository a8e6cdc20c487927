"""What every web page shares: the web state, the signed-in person, CSRF, rendering.

Pages are server-rendered (Jinja2, autoescaped) and call the platform's services directly;
forms are plain HTML forms (no JavaScript library), and the one script of the site
(``static/passkey.js``, the project's own) runs the WebAuthn ceremonies.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote, unquote, urlsplit

from anyio import to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2.ext import i18n
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException
from litestar.response import Redirect

from centime.auth.passkeys import RelyingParty, UserKind, WebUser, get_user
from centime.auth.sessions import (
    SESSION_TTL_S,
    LoginThrottle,
    Session,
    credential_confirmed,
    csrf_matches,
    csrf_token,
    load_session,
    stepped_up,
)
from centime.http.problems import REFUSAL_STATUS
from centime.http.ratelimit import FailureLimit
from centime.money import ASSETS
from centime.platform.context import Platform
from centime.platform.errors import Code, Refusal

from .detail_templates import translate_built_detail
from .i18n import (
    LANG_COOKIE,
    LANGUAGE_NAMES,
    LOCALES,
    TZ_COOKIE,
    Formats,
    choose_locale,
    choose_zone,
    plain_amount,
    translations,
)
from .messages import REVIEW_KINDS, ceremony_messages, refusal_text

__all__ = [
    "LANG_COOKIE",
    "PRE_COOKIE",
    "SESSION_COOKIE",
    "Viewer",
    "WebState",
    "check_csrf",
    "page",
    "safe_next",
    "viewer",
]

T = TypeVar("T")

SESSION_COOKIE: Final = "centime_session"
PRE_COOKIE: Final = "centime_pre"  # before sign-in: what the CSRF token is derived from
CSRF_HEADER: Final = "x-csrf-token"
FORM_FIELDS_MAX: Final = 32
TEMPLATES: Final = Path(__file__).parent / "templates"
STATIC: Final = Path(__file__).parent / "static"


@dataclass
class WebState:
    """The web app's configuration and in-process state."""

    platform: Platform
    rp: RelyingParty
    throttle: LoginThrottle
    secure_cookies: bool = True
    demo: bool = False
    # The server's secret that keys CSRF tokens (the composition root passes the configured
    # one, centime.cli.serve.web_key; a process of its own draws one).
    csrf_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    # Unknown session cookies per client address (429 once a source guesses too much).
    failures: FailureLimit = field(default_factory=FailureLimit)
    # The largest transfer a person sends without a fresh passkey confirmation, per asset.
    step_up_transfer_above: dict[str, int] = field(
        default_factory=lambda: {code: asset.parse("20") for code, asset in ASSETS.items()}
    )
    # The origin merchants' sites load the pay button from (absolute: it runs elsewhere).
    origin: str = ""
    envs: dict[str, Environment] = field(init=False)

    def __post_init__(self) -> None:
        self.envs = {locale: _environment(locale) for locale in LOCALES}


def _environment(locale: str) -> Environment:
    """The templates in one locale: its catalogue installed (``_``, ``ngettext``, new style:
    placeholders are escaped) and its number formats."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "js"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[i18n],
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    # A form field's amount: plain (no grouping), so that sending the form back parses.
    env.filters["plain"] = plain_amount
    env.filters["quote"] = lambda text: quote(str(text), safe="")
    return env


def web_state(request: Request[Any, Any, Any]) -> WebState:
    state: WebState = request.app.state["web"]
    return state


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person, its session, whether it stepped up lately (``fresh``), and
    whether that confirmation may change credentials (``confirmed``: made with a credential
    this session did not add itself)."""

    user: WebUser
    session: Session
    token: str
    fresh: bool
    confirmed: bool = False

    @property
    def is_admin(self) -> bool:
        return self.user.kind is UserKind.OPERATOR and (
            self.user.role is not None and self.user.role.value == "admin"
        )


async def viewer(request: Request[Any, Any, Any]) -> Viewer | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    state = web_state(request)
    source = client_address(request)
    wait_s = state.failures.wait_s(source)
    if wait_s > 0:  # this address sent too many unknown session cookies
        raise HTTPException(
            status_code=429,
            detail="too many failed sign-ins; wait",
            headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
        )
    session = await to_thread.run_sync(load_session, state.platform, token)
    if session is None:
        state.failures.failed(source)
        return None
    user = await to_thread.run_sync(get_user, state.platform, session.user_id)
    if user is None:
        return None
    now_ns = state.platform.clock.now_ns()
    fresh = stepped_up(session, now_ns)
    return Viewer(user, session, token, fresh, credential_confirmed(session, now_ns))


def client_address(request: Request[Any, Any, Any]) -> str:
    """The connection's address (a forwarded one only from a trusted proxy: the server
    honours X-Forwarded-For from CENTIME_TRUSTED_PROXIES alone)."""
    return request.client.host if request.client else "unknown"


async def require(request: Request[Any, Any, Any], kind: UserKind) -> Viewer:
    """The signed-in person of that kind, or a redirect to the sign-in page."""
    found = await signed_in(request)
    if found.user.kind is not kind:
        raise SignInRequired
    return found


async def page_for(
    request: Request[Any, Any, Any], kind: UserKind, render: Callable[[Viewer], T]
) -> T:
    """A page only a signed-in person of ``kind`` sees (anyone else: to the sign-in page),
    rendered off the event loop (it reads the store); every such GET route is this."""
    me = await require(request, kind)
    return await run(request, lambda: render(me))


async def posted(
    request: Request[Any, Any, Any], kind: UserKind | None = None
) -> tuple[dict[str, str], Viewer, Platform]:
    """A form a signed-in person (of ``kind``) posted: its fields once the CSRF token
    matched, the person (or a redirect to the sign-in page), the platform."""
    fields = await check_csrf(request)
    me = await (signed_in(request) if kind is None else require(request, kind))
    return fields, me, web_state(request).platform


async def signed_in(request: Request[Any, Any, Any]) -> Viewer:
    """The signed-in person of any kind, or a redirect to the sign-in page."""
    found = await viewer(request)
    if found is None:
        raise SignInRequired
    return found


class SignInRequired(Exception):  # noqa: N818 - answered as a redirect, not an error
    """The page needs a signed-in person of another kind: to the sign-in page."""


def to_sign_in(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    return Redirect("/app?signin=1", status_code=303)


async def run(request: Request[Any, Any, Any], fn: Callable[[], T]) -> T:
    """Run blocking service work off the event loop."""
    return await to_thread.run_sync(fn)


def _cookie_value(request: Request[Any, Any, Any]) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_COOKIE)


async def check_csrf(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The form's fields once its CSRF token matched the browser's cookie (403 otherwise).
    Script requests send the token in ``X-CSRF-Token``."""
    token: object = request.headers.get(CSRF_HEADER)
    fields: dict[str, str] = {}
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        for index, (name, value) in enumerate(form.multi_items()):
            if index >= FORM_FIELDS_MAX:
                break
            if isinstance(value, str):
                fields[name] = value
        token = token or fields.get("csrf")
    if not csrf_matches(web_state(request).csrf_key, _cookie_value(request), token):
        raise HTTPException(status_code=403, detail="the form's CSRF token is missing or wrong")
    return fields


def _site_cookie(
    state: WebState,
    key: str,
    value: str,
    samesite: Literal["lax", "strict"],
    max_age: int | None = None,
) -> Cookie:
    """A cookie of the whole site that no script reads (HTTPS-only when the site is)."""
    return Cookie(
        key=key,
        value=value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=state.secure_cookies,
        samesite=samesite,
    )


def session_cookie(state: WebState, token: str) -> Cookie:
    return _site_cookie(state, SESSION_COOKIE, token, "lax", SESSION_TTL_S)


def ended_cookie(state: WebState) -> Cookie:
    return _site_cookie(state, SESSION_COOKIE, "", "lax", 0)


def locale_of(request: Request[Any, Any, Any]) -> str:
    return choose_locale(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def formats_of(request: Request[Any, Any, Any]) -> Formats:
    """The request's locale and the browser's time zone."""
    return Formats(locale_of(request), choose_zone(request.cookies.get(TZ_COOKIE)))


# Refusals whose detail says how far a person may go (the limit and what is left today):
# the page adds it, in the reader's words, to the code's sentence.
WITH_VALUES: Final = frozenset({Code.TIER_LIMIT_EXCEEDED})


def _refusal_sentences(refusal: Refusal, gettext: Callable[[str], str], formats: Formats) -> str:
    text = refusal_text(refusal, gettext)
    if refusal.code in WITH_VALUES:
        values = translate_built_detail(refusal.detail, gettext, formats, same=True)
        if values is not None:
            text = f"{text} {values[:1].upper()}{values[1:]}."
    return text


def page(
    request: Request[Any, Any, Any],
    template: str,
    me: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> Response[str]:
    """Render a page in the request's language, with the CSRF token of the browser (a
    pre-session cookie is set for a visitor who has none). ``error`` may be a refusal (shown
    as its sentence) or a message of the catalogue."""
    state = web_state(request)
    formats = formats_of(request)
    gettext = translations(formats.locale).gettext
    error = context.pop("error", None)
    if isinstance(error, Refusal):
        error = _refusal_sentences(error, gettext, formats)
    elif isinstance(error, str):
        error = gettext(error)
    cookies: list[Cookie] = []
    value = _cookie_value(request)
    if value is None:
        value = secrets.token_urlsafe(32)
        cookies.append(_site_cookie(state, PRE_COOKIE, value, "strict"))
    html = (
        state.envs[formats.locale]
        .get_template(template)
        .render(
            me=me,
            csrf=csrf_token(state.csrf_key, value),
            demo=state.demo,
            open_payments=request.app.state.get("open_payments") is not None,
            path=request.url.path,
            error=error,
            lang=formats.locale,
            languages=LANGUAGE_NAMES,
            fmt=formats,
            ceremony_codes=ceremony_messages(gettext),
            review_kinds=REVIEW_KINDS,
            here=_here(request),
            **{
                "next": safe_next(request.query_params.get("next")),
                **context,
                "when": formats.when,
            },
        )
    )
    return Response(
        html,
        status_code=status_code,
        media_type="text/html; charset=utf-8",
        cookies=cookies,
        headers={
            "Content-Security-Policy": CSP,
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        },
    )


def _here(request: Request[Any, Any, Any]) -> str:
    """This page's path and query, for the language switch to come back to."""
    query = request.url.query
    return (request.url.path + (f"?{query}" if query else ""))[:500]


# Scripts from this origin only; no inline script; forms post here only.
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def refused(
    request: Request[Any, Any, Any],
    template: str,
    me: Viewer | None,
    refusal: Refusal,
    **context: Any,
) -> Response[str]:
    """The page again, with the refusal's message, under the refusal's HTTP status."""
    status = REFUSAL_STATUS.get(refusal.code, 400)
    return page(request, template, me, status_code=status, error=refusal, **context)


# Where a page may send the browser next: a same-origin path (and query) in plain ASCII.
_NEXT_PATTERN: Final = re.compile(r"/[A-Za-z0-9/_.~?=&%+-]*")
NEXT_LEN_MAX: Final = 1000


def safe_next(target: str | None) -> str:
    """``target`` if it is a same-origin relative path (after signing in, stepping up,
    switching the language), else "". Refused: anything but a path beginning with one ``/``
    (``//evil``, ``https:``, ``javascript:``), a backslash (browsers read ``/\\evil`` as
    ``//evil``), control characters, spaces and non-ASCII, and the same once percent-decoded
    (``/%5Cevil``, ``/%2F%2Fevil``, ``/%09``)."""
    text = target or ""
    if len(text) > NEXT_LEN_MAX or not _NEXT_PATTERN.fullmatch(text):
        return ""
    decoded = unquote(text)
    if decoded.startswith("//") or "\\" in decoded:
        return ""
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in decoded):
        return ""
    parts = urlsplit(decoded)
    return "" if parts.scheme or parts.netloc else text


def done(location: str, ok: str) -> Redirect:
    """After a successful form: back to a page, with a fixed message key (never text)."""
    return Redirect(f"{location}?ok={quote(ok)}", status_code=303)
