"""The GraphQL filter and order inputs, the domain filters and the `Listing` declarations that
the list functions and the cached plans build their SQL from, agree: one name per condition in
all three, every input field carried into the domain filter by `to_domain`, and every order the
input can ask for declared. (The inputs are written beside the declarations, so this is the
check that they did not drift: a condition added to a Listing and not to its input, or the
other way round, fails here.)"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition

from gateway.domain.incidents.alerts import ALERTS
from gateway.domain.incidents.incidents import INCIDENTS
from gateway.domain.listing import Listing
from schema.alerts import AlertFilter
from schema.enums import IncidentOrderField, OrderDirection
from schema.incidents import IncidentFilter, IncidentOrder

CASES = [(IncidentFilter, INCIDENTS), (AlertFilter, ALERTS)]


def _a_value(field_type: Any) -> Any:
    """A value that filters, for an input field of `field_type`."""
    if isinstance(field_type, StrawberryOptional):
        return _a_value(field_type.of_type)
    if isinstance(field_type, StrawberryList):
        return [_a_value(field_type.of_type)]
    if isinstance(field_type, StrawberryEnumDefinition):
        return next(iter(field_type.wrapped_cls))
    if field_type is datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)
    return "x"


@pytest.mark.parametrize(("input_type", "listing"), CASES, ids=["incidents", "alerts"])
def test_filter_input_domain_filter_and_listing_name_the_same_conditions(
    input_type: Any, listing: Listing
) -> None:
    inputs = {f.python_name: f for f in input_type.__strawberry_definition__.fields}
    domain = type(input_type().to_domain())
    assert set(inputs) == {f.name for f in dataclasses.fields(domain)}
    assert set(inputs) == {c.name for c in listing.conditions}
    # Every field is carried by to_domain: set each alone, and the listing sees that condition.
    for name, field in inputs.items():
        value = _a_value(field.type)
        flt = input_type(**{name: value}).to_domain()
        assert set(listing.filter_values(flt)) == {name}, name


def test_every_order_the_input_can_ask_for_is_declared() -> None:
    for field in IncidentOrderField:
        for direction in OrderDirection:
            key = IncidentOrder(field=field, direction=direction).key()
            assert key in INCIDENTS.orders, key
    assert IncidentOrder().key() == INCIDENTS.default_order

