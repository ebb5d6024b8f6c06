"""The OpenAPI document describes request bodies from the domain's attrs classes and
their validators: a field's type, whether it has a default, and what its validator
states, so a limit changed in the domain changes the document."""

from __future__ import annotations

import attrs
import pytest

from waport.domain.interactive import INTERACTIVE_TYPES
from waport.domain.limits import INTERACTIVE
from waport.domain.validators import chars, http_url, int_between, items
from waport_http.openapi import openapi_document
from waport_http.openapi_attrs import URL_REF, object_schema


@attrs.frozen
class _Row:
    id: str = attrs.field(validator=chars(8, minimum=1, blank=False))


@attrs.frozen
class _Sample:
    name: str = attrs.field(validator=chars(10, minimum=2))
    rows: tuple[_Row, ...] = attrs.field(validator=items(1, 3))
    count: int = attrs.field(default=0, validator=int_between(0, 9))
    link: str | None = attrs.field(default=None, validator=http_url)
    note: str | None = None


def test_a_class_becomes_a_closed_object_with_its_validators_stated() -> None:
    schema = object_schema(_Sample)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name", "rows"]
    fields = schema["properties"]
    assert fields["name"] == {"type": "string", "maxLength": 10, "minLength": 2}
    assert (fields["rows"]["minItems"], fields["rows"]["maxItems"]) == (1, 3)
    assert fields["rows"]["items"]["properties"]["id"]["pattern"]  # not only whitespace
    assert fields["count"] == {"type": "integer", "minimum": 0, "maximum": 9}
    assert fields["link"] == {"anyOf": [URL_REF, {"type": "null"}]}
    assert fields["note"] == {"type": ["string", "null"]}


def test_a_type_it_cannot_describe_is_named() -> None:
    @attrs.frozen
    class Odd:
        value: complex

    with pytest.raises(TypeError, match="complex"):
        object_schema(Odd)


def test_every_interactive_type_is_a_variant_with_the_fields_its_class_takes() -> None:
    schemas = openapi_document()["components"]["schemas"]
    variants = [r["$ref"].rsplit("/", 1)[1] for r in schemas["Interactive"]["oneOf"]]
    assert len(variants) == len(INTERACTIVE_TYPES)
    for name, cls in zip(variants, INTERACTIVE_TYPES.values(), strict=True):
        fields = set(schemas[name]["properties"]) - {"type"}
        assert fields == {f.name for f in attrs.fields(cls)}
    buttons = schemas["ButtonsInteractive"]["properties"]["buttons"]
    assert buttons["maxItems"] == INTERACTIVE.buttons_max
