"""The Faust agents: thin wiring around the pure rules in agents/rules.

- `rules/`: the decisions, as pure functions of (state, event, policy, now); no Kafka, no I/O.
- `topology.py`: which agents read which topics and which tables they keep (registered by pipeline/worker/app.py).
- `customer_events.py`: the customer agent's body (decode, deduplicate, run the journey step, emit, store) and the
  identity index agent's.
- `runtime.py`: what the agents of one worker share (settings, codec, policy, metrics).
"""
