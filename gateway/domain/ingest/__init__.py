"""Alert ingestion: one pipeline behind the `ingestAlert` mutation, `POST /v1/alerts` and the
webhook.

- `formats`: recognise generic / batch / Alertmanager v4 / Grafana / unknown shapes and
  normalise them (`parse`);
- `severity`: map severity names, synonyms, priorities and numeric levels onto our five;
- `pipeline`: deduplicate, correlate, resolve, in one write transaction (`ingest`);
- `correlation`: group keys and the correlation window;
- `idempotency`: `Idempotency-Key` replay for 24 hours;
- `deliveries`: the webhook delivery log;
- `webhook_auth`: path tokens, HMAC signatures, the webhook's Principal.
"""
