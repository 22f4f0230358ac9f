"""Cached execution plans: repeated read operations answered without per-field resolvers.

A dashboard polling `incidents(first: 50) { nodes { ... alerts { ... } timeline { ... } } }`
makes graphql-core run a resolver, a type check and a serializer for each of its ~2,500 fields:
that, not SQL, is most of its cost. For documents seen before, a plan does the same work
directly: one statement per relation for all the rows above it (the incident page, then each
nested list for the whole page, each object named by id for all the rows naming it), reading
only the columns the query selects, then the response built from the rows by one generated
function per object selection. Fields computed in Python (`Incident.sla`, `Alert.summary`,
`Workspace.slaPolicy`, `Workspace.slaSummary`, `Report.markdown`/`html`, `viewer`,
`rateLimit`) call the functions their resolvers call, once per row, with what a page needs read
once, and are serialized through the schema's own scalars.

Nothing is restated from the schema or the domain: the field-to-column mapping and converters
are derived from the Strawberry types and their tables (`fields.Fields`), the SQL of filters,
orders, cursors and tenancy comes from the domain's declarations (`gateway.domain.listing`)
that its list functions use too, and arguments reach a plan exactly as its resolver receives
them (graphql-core's coercion, then Strawberry's conversion).

A plan is made only for a document the standard executor has already run without errors (so
it validates, limits included), compiled once per document and per values of the variables
`@include` / `@skip` read; anything it does not cover (`Viewer.workspace`,
`Viewer.actingWorkspace`) and any error while running a plan (a bad cursor, a page size out of
range, a value the plan cannot convert) goes to the standard executor, which gives the
canonical answer or error. Its output equals the standard executor's for every operation it
accepts; the differential test (tests/bench/test_plan_differential.py) checks that over
documents generated from the schema, on both backends. Every query the standard executor
answers instead of a learned plan is counted in `seliq_graphql_fallbacks_total{reason}` and
logged once per document (`Plans.answer`).

Plans read through the driver's own connection, aiosqlite's on SQLite (one hop to its thread
per statement instead of SQLAlchemy's four), asyncpg's on PostgreSQL (in autocommit: no
BEGIN/ROLLBACK around the reads), and take raw values, converted here exactly as the schema's
scalars would. Either way every statement is counted in X-Seliq-SQL-Statements, and each is
compiled by SQLAlchemy once per shape.

Modules: `values` (reasons, and converters chosen by GraphQL type), `fields` (what each field
is: a column, a reference, a nested list, a computed value; the root fields), `complete`
(serializing computed values), `computed` (the computed fields), `selections` (the compiled
selections and the generated builders), `compiler` (document to plan), `statements` (the SQL,
and reading it), `jsonsql` (on PostgreSQL, nodes built as JSON by the database) and `run`
(`Plans`, the cache, and running a plan).

Mutations are not plans, but the one the webhook sends for every alert is answered the same
way (`mutations`: learned after the standard executor ran it, its root field's function called
directly and the plain fields of its result written by the selection).
"""
