"""Every bound of the system in one place.

A limit that is not written down is infinite, and nothing in a payments system may be
infinite: batches, queues, pages, timeouts and amounts all stop somewhere, and the place
they stop is here, so that it can be read, tested and changed in one edit.
"""

from typing import Final

# Amounts and balances are stored as signed 64-bit integers in both stores (SQLite INTEGER,
# PostgreSQL BIGINT). No single amount and no balance field, nor the sum of a pending and a
# posted field, may exceed this: the engine refuses the event with an `overflows_*` status
# before it could happen, so overflow is impossible in either store.
AMOUNT_MAX: Final = 2**63 - 1

# Ids are client-chosen positive integers that fit a signed 64-bit column.
ID_MAX: Final = 2**63 - 1

# `code` and `user_data` fields: small enough for a signed 64-bit column.
CODE_MAX: Final = 2**31 - 1
USER_DATA_MAX: Final = 2**63 - 1

# A pending transfer may reserve funds for at most this long (about 68 years would overflow
# nothing, but nothing legitimate holds money longer than a year and a day).
TIMEOUT_MAX_S: Final = 366 * 24 * 3600

# One batch (a call to create_accounts or create_transfers) holds at most this many events:
# TigerBeetle's limit for 128-byte events in a 1 MiB message.
BATCH_EVENTS_MAX: Final = 8189

# Group commit: the writer merges requests that arrive together into one database
# transaction of at most this many events, waiting at most this long for more to arrive.
GROUP_EVENTS_MAX: Final = 8189
GROUP_WAIT_MAX_S: Final = 0.002

# A group that lost a race with another writer process (PostgreSQL) is applied again from
# scratch, at most this many times, before its callers get the error.
GROUP_RETRIES_MAX: Final = 16
# A group that overlapped other writer processes' (PostgreSQL) and lost this many races in
# a row runs again alone among the writers (it then waits for nobody's locks but the clock's).
OVERLAP_RACES_MAX: Final = 2

# Requests waiting for the writer; a full queue makes callers wait (back-pressure), it never
# grows without bound.
WRITER_QUEUE_REQUESTS_MAX: Final = 1024

# How long a caller waits for its batch to become durable before it gets an error.
COMMIT_WAIT_MAX_S: Final = 60.0

# Pending transfers expired per sweep, so that one sweep cannot stall the writer.
EXPIRY_SWEEP_MAX: Final = 8189
# How often the writer looks for expired pending transfers when there is no traffic.
EXPIRY_INTERVAL_S: Final = 1.0

# Query pages.
QUERY_LIMIT_MAX: Final = 8189

# Rows per SQL statement parameter list (SQLite allows 32766 host parameters).
SQL_IN_CHUNK: Final = 4000

# PostgreSQL: query connections per store (per process). Each is a server backend; a handful
# serve many threads, since a query holds its connection only while it runs.
POSTGRES_READER_CONNECTIONS_MAX: Final = 4
# How long a query waits for a free reader connection, and for a new connection.
POSTGRES_READER_WAIT_MAX_S: Final = 30.0
POSTGRES_CONNECT_TIMEOUT_S: Final = 10

# Longest decimal string accepted as an amount.
AMOUNT_TEXT_MAX: Final = 64

# Asset codes.
ASSET_CODE_LEN_MAX: Final = 12
ASSET_SCALE_MAX: Final = 18

# The audit log signs a tree head when its last one is older than this, while batches commit,
# and covers the newest batch at the writer's next idle tick (EXPIRY_INTERVAL_S) otherwise:
# a head at least every second while there is traffic.
AUDIT_HEAD_INTERVAL_S: Final = 0.5

# Top-ups and funding providers (centime.platform.funding.topups, centime.providers).
# An instrument (a card token, a bank account reference, a phone number) as a request names
# it; a provider's reference, decline code and message as it answers them.
INSTRUMENT_LEN_MAX: Final = 64
PROVIDER_REF_LEN_MAX: Final = 64
PROVIDER_CODE_LEN_MAX: Final = 64
PROVIDER_MESSAGE_LEN_MAX: Final = 200
# A top-up the provider could not be reached for is charged again at most this many times in
# all (each retry is a request of the customer; past this the top-up waits for the provider's
# own events, which name it, and is never charged again by the platform).
TOPUP_CHARGE_ATTEMPTS_MAX: Final = 8
# Provider events handled per tick of the event loop, and how often it ticks.
PROVIDER_EVENTS_PER_TICK_MAX: Final = 1000
PROVIDER_EVENTS_INTERVAL_S: Final = 1.0
# The sandbox provider: the charges it remembers for idempotency (the oldest is forgotten
# first, as a real provider forgets keys after a day), and events queued or handed out but
# not yet acknowledged (when full, it answers as an overloaded provider does, unavailable,
# rather than dropping an event).
SANDBOX_CHARGES_MAX: Final = 100_000
SANDBOX_EVENTS_MAX: Final = 100_000

# The most assets the platform may know (centime.money.ASSETS, checked there at import): a
# unit of payments adds ledger events per asset, so its bound below depends on this one.
ASSETS_MAX: Final = 8

# Payments in one batch write unit (centime.platform.payments.service.create_payments_batch). Each
# payment is at most BATCH_PAYMENT_LEGS_MAX ledger events (a restricted leg and a wallet leg;
# the batch's fees travel in one transfer per asset), and per asset the unit may add that fee
# transfer and create the merchant's available earnings and the fee revenue account
# (BATCH_ASSET_EVENTS_MAX). Every known asset may appear in one batch, so the payments are
# what remains of BATCH_EVENTS_MAX once ASSETS_MAX assets are paid for:
# (8189 - 3 x 8) // 2 = 4082. Adding an asset up to ASSETS_MAX keeps every unit in bounds
# without touching this; the API's batch endpoint splits larger batches into units of it.
BATCH_PAYMENT_LEGS_MAX: Final = 2
BATCH_ASSET_EVENTS_MAX: Final = 1 + 2
BATCH_PAYMENTS_MAX: Final = (
    BATCH_EVENTS_MAX - BATCH_ASSET_EVENTS_MAX * ASSETS_MAX
) // BATCH_PAYMENT_LEGS_MAX

# Free text on payments, holds, refunds and transfers between customers (the column sizes).
DESCRIPTION_LEN_MAX: Final = 500
REFERENCE_LEN_MAX: Final = 200

# Customers and merchants (centime.platform.parties.service; the API's wire checks the same bounds).
PARTY_NAME_LEN_MAX: Final = 200
EMAIL_LEN_MAX: Final = 320
FEE_BP_MAX: Final = 10_000

# Pricing (centime.platform.pricing): a promotion code's form and bounds, a rule set
# version's note, and the sizes of a rule set document.
PROMO_CODE_PATTERN: Final = r"^[A-Za-z0-9_-]{3,32}$"
PROMO_PER_CUSTOMER_MAX: Final = 1_000
PROMO_USES_MAX: Final = 10_000_000
PRICING_NOTE_LEN_MAX: Final = 500
FEE_TIERS_MAX: Final = 16  # per schedule
FEE_SCHEDULES_MAX: Final = 1_000  # per rule set (default and per-merchant, per asset)
TOPUP_BONUSES_MAX: Final = 32

# Rows one service listing returns (the API's own page bound is smaller).
LIST_LIMIT_MAX: Final = 1000

# Lapsed metered holds whose rows one expire_holds call updates.
HOLD_EXPIRE_MAX: Final = 1000
# How often the worker's job marks lapsed holds expired (centime serve, centime worker).
HOLD_EXPIRE_INTERVAL_S: Final = 1.0

# ---------------------------------------------------------------- the HTTP API (centime.api)
# Request bodies: 1 MiB for every endpoint but the batch payments one, which takes up to
# 8189 payments of at most 1 KiB of JSON each (ids, an amount, a 500-character description
# and a 200-character reference fit in 1 KiB): 8 MiB.
API_BODY_MAX_BYTES: Final = 1 << 20
API_BATCH_BODY_MAX_BYTES: Final = 8 << 20
# Payments in one request to the batch endpoint (POST /v1/payments/batch): split into units
# of BATCH_PAYMENTS_MAX, submitted to the writer together.
API_BATCH_PAYMENTS_MAX: Final = 8189
# Pages of a listing: the default and the most one page holds; a cursor's longest text.
API_PAGE_SIZE_DEFAULT: Final = 20
API_PAGE_SIZE_MAX: Final = 100
API_CURSOR_LEN_MAX: Final = 64
# Requests per API key: a token bucket refilled at this rate up to the burst. Buckets live
# in the process (one per recently seen key, the least recently used forgotten first: a
# forgotten key starts again with a full bucket). Several processes each allow the rate.
API_RATE_PER_KEY_PER_S: Final = 1000.0
API_RATE_BURST: Final = 2000
API_RATE_BUCKETS_MAX: Final = 10_000
# Failed authentications (bad API keys, unknown session cookies) per client address: a
# burst of 20, then one every 5 s (centime.http.ratelimit.FailureLimit); 429 beyond.
AUTH_FAILURES_BURST: Final = 20
AUTH_FAILURES_PER_S: Final = 0.2
AUTH_FAILURE_SOURCES_MAX: Final = 10_000
# Verified API keys kept in a process, and for how long: a key revoked by another process
# keeps working here for at most this long (revoking through this process: at once).
API_KEY_CACHE_MAX: Final = 10_000
API_KEY_CACHE_TTL_S: Final = 5.0
# Active keys per owner, and the length of a key's name.
API_KEYS_PER_OWNER_MAX: Final = 100
API_KEY_NAME_LEN_MAX: Final = 200
# Idempotency-Key: its length (printable ASCII), how long a stored response is replayed (at
# least 24 h), rows purged per run of the worker's purge job and how often it runs, and the
# requests with a key in flight at once in a process.
IDEMPOTENCY_KEY_LEN_MAX: Final = 255
IDEMPOTENCY_KEEP_S: Final = 24 * 3600
IDEMPOTENCY_PURGE_MAX: Final = 1000
IDEMPOTENCY_PURGE_INTERVAL_S: Final = 60.0
IDEMPOTENCY_IN_FLIGHT_MAX: Final = 4096
# A client's X-Request-Id is kept when it is this short (and of safe characters).
REQUEST_ID_LEN_MAX: Final = 64
# /readyz: how long the store and the ledger writer have to answer.
API_READY_TIMEOUT_S: Final = 5.0

# ------------------------------------------------------------------ risk in the platform
# A passkey confirmation counts as a step-up for this long after it was made.
STEP_UP_FRESH_S: Final = 300
# A device id (Centime-Device header) and a client IP as a decision records them.
RISK_DEVICE_LEN_MAX: Final = 128
RISK_IP_LEN_MAX: Final = 64
# The features a decision stores: at most this many, and this much JSON.
RISK_FEATURES_MAX: Final = 256
RISK_FEATURES_JSON_MAX_BYTES: Final = 16 * 1024
# A case's evidence: the payer's recent decisions and the accounts sharing its devices,
# IPs and instruments, at most this many of each.
RISK_EVIDENCE_ROWS_MAX: Final = 50
# `centime risk export-labels` writes at most this many rows per page read.
RISK_EXPORT_PAGE_ROWS: Final = 1000
# `centime simulate`: events applied at most per run.
SIMULATE_EVENTS_MAX: Final = 10_000_000
# ---------------------------------------------------------------- webhooks and the worker
# (centime.platform.events.webhooks, centime.api.webhook_delivery, centime.worker)
# Endpoints per merchant (enabled or not); an endpoint URL's length.
WEBHOOK_ENDPOINTS_PER_MERCHANT_MAX: Final = 16
WEBHOOK_URL_LEN_MAX: Final = 2048
# Secrets: "whsec_" + base64 of this many random bytes (the Standard Webhooks range is
# 24..64); a rotated-out secret keeps signing for an overlap of at most this long.
WEBHOOK_SECRET_BYTES: Final = 32
WEBHOOK_ROTATION_OVERLAP_DEFAULT_S: Final = 24 * 3600
WEBHOOK_ROTATION_OVERLAP_MAX_S: Final = 7 * 24 * 3600
# Delays before each attempt of one delivery: the Standard Webhooks schedule (immediately,
# 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); after the last, the delivery has failed.
WEBHOOK_RETRY_DELAYS_S: Final = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
# An endpoint whose every attempt failed for this long is disabled (a 410 Gone disables it
# at once).
WEBHOOK_FAILING_DISABLE_S: Final = 5 * 24 * 3600
# One delivery tick: outbox events walked (deliveries made), attempts sent, sent at once.
WEBHOOK_FANOUT_EVENTS_MAX: Final = 1000
WEBHOOK_SENDS_PER_TICK_MAX: Final = 64
WEBHOOK_SEND_CONCURRENCY: Final = 8
# One attempt: connect/read/write/pool timeouts (the answer's body is never read).
WEBHOOK_TIMEOUT_S: Final = 10.0
# A job's lease (centime worker): a holder that has not released it after this long is taken
# to be dead and the job is taken over. Leases are not renewed: every job is bounded per run
# well below it (a delivery tick: 64 attempts, 8 at once, 10 s
# each at most: 80 s plus the outbox walk).
JOB_LEASE_S: Final = 300.0
JOB_INTERVAL_MIN_S: Final = 0.05
# The delivery job's interval, and the hold expiry and provider events jobs' (serve's).
WEBHOOK_DELIVERY_INTERVAL_S: Final = 1.0
# CSV export: the longest period one export covers, and rows one export writes at most.
EXPORT_PERIOD_MAX_DAYS: Final = 366
EXPORT_ROWS_MAX: Final = 1_000_000
EXPORT_PAGE_ROWS: Final = 1000
# ------------------------------------------------------ payouts (centime.platform.payouts.service)
# A bank account holder's name as a merchant gives it; payout methods a merchant may have
# active at once; quotes of instant payouts stored per merchant and UTC day (a merchant
# asking for a quote in a loop meets a refusal, not an unbounded table).
HOLDER_NAME_LEN_MAX: Final = 200
PAYOUT_METHODS_PER_MERCHANT_MAX: Final = 10
PAYOUT_QUOTES_PER_MERCHANT_DAY_MAX: Final = 1000
# Schedules one run of scheduled payouts looks at per call (a run of more merchants is
# several calls: the job is called again until its report says it is done).
PAYOUT_RUN_SCHEDULES_MAX: Final = 1000
# Payouts reserved but never acknowledged by the rail that one recovery call sends again,
# and how often the platform sends one at most (past this it waits for an operator).
PAYOUT_RECOVER_MAX: Final = 1000
PAYOUT_SEND_ATTEMPTS_MAX: Final = 16
# Rail events applied per call of process_payout_events.
PAYOUT_EVENTS_PER_TICK_MAX: Final = 1000
# How often `centime serve` sends again payouts never acknowledged, and runs the day's
# scheduled payouts (a run is idempotent per merchant and date).
PAYOUT_RECOVER_INTERVAL_S: Final = 60.0
PAYOUT_RUN_INTERVAL_S: Final = 3600.0
# The referral reward pass (centime.platform.referrals.service.run_reward_pass) runs this often.
REFERRAL_REWARD_INTERVAL_S: Final = 300.0
# Spending budgets (centime.platform.payments.links) are settled this often, well before their holds
# lapse.
BUDGET_SETTLE_INTERVAL_S: Final = 10.0

# ------------------------------------------------------------------ risk labels
# Labels in one `POST /v1/risk/labels` request or one page of `centime risk label`.
RISK_LABELS_BATCH_MAX: Final = 1000
# A label's id (unique per source) and the parties it names, in characters.
RISK_LABEL_ID_LEN_MAX: Final = 128
RISK_LABEL_PARTY_LEN_MAX: Final = 256
# At start, the engine is told the labels that arrived within this many days (the longest
# label-feedback window is 30 days).
RISK_LABELS_REPLAY_DAYS: Final = 30
# Payer-payee pairs the risk features count exactly; beyond, new pairs are counted in a
# count-min sketch (RISK_SKETCH_WIDTH x RISK_SKETCH_DEPTH counters, 4 bytes each: 64 MiB),
# which never undercounts and inflates a pair's count when all its counters are shared:
# with P pairs in the sketch, for about (1 - exp(-P / width)) ** depth of them (1 million
# pairs: 0.2%; 4 million: 16%; tests/risk/test_sketch.py measures it). An exact pair costs
# about 150 bytes (2 million: about 300 MB).
RISK_PAIRS_EXACT_MAX: Final = 2_000_000
RISK_SKETCH_WIDTH: Final = 2**22
RISK_SKETCH_DEPTH: Final = 4
# Keys per family (accounts, each family's velocity windows, devices, IPs, instruments, the
# model's payers and payees) whose risk state is kept exactly; a key beyond shares one of
# RISK_SHARED_SLOTS states, chosen by its hash (centime.risk.sketch.BoundedMap: a count-min
# of depth one), so its counts and sums read high when another key beyond shares its slot:
# with K keys beyond the limit, about 1 - exp(-K / slots) of them (65,536 keys beyond: 63%;
# tests/risk/test_sketch.py measures it). Nothing is evicted: an exact key never restarts.
# ``centime bench risk`` measures the state's bytes per party (about 4 KB, rules' and
# model's features together): 1,000,000 keys per family is a few GB at most.
RISK_KEYS_EXACT_MAX: Final = 1_000_000
RISK_SHARED_SLOTS: Final = 2**16
