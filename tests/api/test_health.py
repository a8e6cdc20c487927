"""Liveness, readiness, metrics, and the API's housekeeping jobs."""

from __future__ import annotations

import pytest

from centime.api.background import housekeeping_jobs
from centime.auth import Scope
from centime.clock import FakeClock
from centime.platform.context import Platform
from centime.worker import Job, Worker

from .conftest import Api


def test_healthz_and_readyz_answer(api: Api) -> None:
    assert api.operator.health().status == "ok"
    assert api.operator.ready().status == "ready"


def test_readyz_is_503_when_the_ledger_is_gone(api: Api) -> None:
    assert api.http.get("/healthz").status_code == 200
    api.platform.ledger.close()
    response = api.http.get("/readyz")
    assert response.status_code == 503 and response.json()["code"] == "not_ready"
    assert api.http.get("/healthz").status_code == 200  # alive, not ready


def test_metrics_count_requests_by_route_template(api: Api) -> None:
    customer = api.operator.create_customer("Ada")
    api.operator.get_customer(customer.id)
    api.http.get("/no/such/route/abc123")
    assert api.http.get("/metrics").status_code == 401  # tenants' traffic: operators only
    merchant_key = api.merchant_key(api.merchant(), Scope.ADMIN)
    assert api.http.get("/metrics", headers=api.headers(merchant_key)).status_code == 403
    text = api.http.get("/metrics", headers=api.headers(api.key(Scope.READ))).text
    assert (
        'centime_http_requests_total{method="GET",route="/v1/customers/{customer_id}",'
        'status="200"} 1.0' in text
    )
    assert 'route="unmatched",status="404"} 1.0' in text
    assert "abc123" not in text and customer.id not in text  # bounded labels
    assert 'centime_http_request_duration_seconds_bucket{le="0.025",method="POST"' in text


def test_the_housekeeping_jobs_purge_and_the_worker_survives_a_failing_job(
    api: Api, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    api.http.post(
        "/v1/customers", json={"name": "A"}, headers=api.headers(**{"Idempotency-Key": "k"})
    )
    clock.advance(24 * 3600 + 1)
    ran: list[str] = []

    def failing(_: Platform) -> None:
        raise RuntimeError("boom")

    after = Job("after", 60, lambda _: ran.append("x"))
    worker = Worker(api.platform, [Job("fails", 60, failing), *housekeeping_jobs(), after])
    assert worker.tick() == ["fails", "idempotency.purge", "openpayments.streams", "after"]
    assert ran == ["x"] and "boom" in caplog.text
    with api.platform.read() as fetch:
        assert fetch("SELECT count(*) FROM idempotency_keys", ()) == [(0,)]
    assert worker.tick() == []  # each is due again after its interval, not before
    worker.start()
    worker.stop()
