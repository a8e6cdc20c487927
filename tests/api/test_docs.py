"""docs/api.md stays true: its route table names every operation the OpenAPI document has,
and nothing the document lacks."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import Api

DOC = Path(__file__).parents[2] / "docs" / "api.md"
_ROW = re.compile(r"^\| `(GET|POST|PATCH|PUT|DELETE) (/[^`]*)` \|", re.MULTILINE)


def test_the_route_table_is_the_openapi_document(api: Api) -> None:
    schema = api.app.openapi_schema.to_schema()
    served = {
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "put", "delete")
    }
    documented = {f"{m} {p}" for m, p in _ROW.findall(DOC.read_text())}
    assert documented == served
