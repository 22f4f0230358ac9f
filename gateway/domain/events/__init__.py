"""Live events: the in-process hub subscriptions read from, and the brokers that carry events
between processes."""
