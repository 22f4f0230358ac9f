"""Cached execution plans: repeated read operations answered without per-field resolvers.

A dashboard polling `incidents(first: 50) { nodes { ... alerts { ... } timeline { ... } } }`
makes graphql-core run a resolver, a type check and a serializer for each of its ~2,500 fields:
that, not SQL, is most of its cost. For documents seen before, a plan does the same work
directly: one statement per level (the incident page, then each nested list for the whole page)
reading only the columns the query selects, then the response built from the rows by one
generated function per object selection.

The statements are those of the domain functions the resolvers call (`list_incidents` and
`list_alerts` without a filter, `gateway.domain.storage.rows.limited_per_parent`), rebuilt here
with named parameters so each shape is built once: a change to those functions must be mirrored
here, and the differential test fails until it is.

A plan is made only for a document the standard executor has already run without errors (so
it validates, limits included), and only when every field it selects is one the plan knows
(below); anything else, and any error while running a plan (a bad cursor, a filter, a value
the plan cannot coerce), goes to the standard executor, which gives the canonical answer or
error. Its output equals the standard executor's for every operation it accepts; the
differential test (tests/bench/test_plan_differential.py) checks that over generated queries.
Every query the standard executor answers instead of a learned plan is counted in
`seliq_graphql_fallbacks_total{reason}` and logged once per document (`Plans.answer`).

Supported: the root `incidents` and `alerts` lists (no `filter`, no `orderBy`;
`first/after/last/before`; `totalCount`), incident fields and `workspace { id }`, an incident's
nested `alerts` and `timeline` (`alerts { totalCount }` too), alert and event scalar fields and
`incident { id }` / `workspace { id }`, `nodes`, `edges { cursor node }`, `pageInfo`,
`__typename`, aliases, fragments and inline fragments. Not: directives (`@include`/`@skip`),
other fields (`notes`, `sla`, `summary`, workspace fields beyond the id), other root fields.

On SQLite, plans read through the aiosqlite connection itself (one hop to its thread per
statement instead of SQLAlchemy's four, and raw values, converted here exactly as the schema's
scalars would); on PostgreSQL through SQLAlchemy Core. Either way a statement is counted in
X-Seliq-SQL-Statements, and each is built once per shape.

Modules: `values` (column converters and the fields plans know), `selections` (the compiled
selections and the functions that build a response from rows), `compiler` (document to plan),
`statements` (the SQL of each level) and `run` (`Plans`, the cache, and running a plan).
"""
