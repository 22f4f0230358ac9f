"""Rate limits: the per-workspace limiter (in process) and the shared counts in Redis."""
