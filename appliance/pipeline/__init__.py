"""The SOP as a durable state machine with per-step time budgets."""
