"""Alert summaries: the built-in deterministic summarizer, the OpenAI-compatible one, the cache."""
