"""Pricing: versioned, declarative rule sets evaluated by pure functions (fee schedules by
monthly volume, top-up bonuses, instant-payout discounting, referral rewards), the store of
published versions and merchants' monthly volumes, and promotion codes.

- :mod:`.rules`: the document, its validation and the immutable :class:`RuleSet`;
- :mod:`.evaluate`: pure functions of a rule set, an operation and ``now``;
- :mod:`.store`: publishing and reading versions, the rule set in force inside a unit,
  merchants' monthly volumes;
- :mod:`.promos`: promotion codes and their redemption inside a payment's unit;
- :mod:`.budget`: funding and reading the promotions budget.
"""
