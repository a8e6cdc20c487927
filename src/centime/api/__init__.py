"""The REST API (Litestar + msgspec): ``/v1`` routes that parse a request, call the
platform and render its answer (bodies: :mod:`centime.wire`; errors, rate limits and
metrics: :mod:`centime.http`). :func:`centime.server.create_app` mounts it beside the web
pages and Open Payments.
"""
