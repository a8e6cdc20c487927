"""What the HTTP faces share: the REST API (:mod:`centime.api`), the web pages
(:mod:`centime.web`) and Open Payments (:mod:`centime.openpayments`) all answer errors as
problem documents (:mod:`.problems`), limit rates (:mod:`.ratelimit`) and count requests
(:mod:`.metrics`). Nothing here imports those faces; :mod:`centime.server` assembles them.
"""
