"""The demo's merchant site: an article with the platform's pay button ("Pay 0.05"), as a
news site would embed it (served only by ``centime demo``)."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response, get

from centime.platform.ids import format_id
from centime.platform.parties import list_merchants

from .common import page, run, viewer, web_state

__all__ = ["demo_routes"]


@get("/demo/site")
async def demo_site(request: Request[Any, Any, Any]) -> Response[Any]:
    state = web_state(request)
    if not state.demo:
        return Response("not found", status_code=404, media_type="text/plain")
    merchants = await run(request, lambda: list_merchants(state.platform, None, 50).items)
    news = next((m for m in merchants if m.name == "The Daily Byte"), None) or (
        merchants[0] if merchants else None
    )
    return page(
        request,
        "demo_site.html",
        await viewer(request),
        merchant_id=format_id("mer", news.id) if news else "",
        merchant_name=news.name if news else "",
    )


demo_routes: Final = [demo_site]
