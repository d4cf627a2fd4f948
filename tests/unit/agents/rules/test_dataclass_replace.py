from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from dataclasses import InitVar, dataclass, field
from typing import Any, cast

import pytest

import agents.rules
from agents.rules import dataclass_replace
from agents.rules.dataclass_replace import replace
from agents.rules.events import RECORD_TYPES
from agents.rules.journey import CustomerState
from agents.rules.records import fields_of, shape
from tests.unit.agents.rules.test_records import sample


def reachable(*roots: type) -> list[type]:
    """Every dataclass type the roots' fields hold, at any depth, the roots included."""
    found: dict[type, None] = {}

    def visit(hint: Any) -> None:
        kind, args = shape(hint)
        if kind == "record":
            if args[0] not in found:
                found[args[0]] = None
                for f in fields_of(args[0]):
                    visit(f.hint)
        elif kind not in ("plain", "literal"):
            for a in args:
                visit(a)

    for root in roots:
        visit(root)
    return list(found)


def defined_in_the_rules() -> list[type]:
    """The other dataclasses of agents.rules whose fields `sample` can fill (e.g. PaymentRef, DeclineInfo)."""
    found = []
    for module in pkgutil.walk_packages(agents.rules.__path__, "agents.rules."):
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.name:
                try:
                    sample(value)
                except (TypeError, NameError):  # a Mapping or Any field: no sample for it
                    continue
                found.append(value)
    return sorted(found, key=lambda c: c.__qualname__)


TYPES = reachable(CustomerState, *(RECORD_TYPES[name] for name in sorted(RECORD_TYPES)), *defined_in_the_rules())
FIELDS = [(cls, f.name) for cls in TYPES for f in fields_of(cls)]


def test_the_walk_reaches_the_state_and_the_events_nested_records() -> None:
    names = {cls.__name__ for cls in TYPES}
    assert {"CustomerState", "CustomerProfile", "Seen", "IssuerRecord", "Payments", "PaymentAttempted",
            "PaymentRef", "Reason", "DeclineInfo", "IdentityNode"} <= names


@pytest.mark.parametrize(("cls", "name"), FIELDS, ids=[f"{c.__name__}.{n}" for c, n in FIELDS])
def test_each_single_field_changed_is_what_dataclasses_replace_gives(cls: type, name: str) -> None:
    obj = sample(cls)
    hint = next(f.hint for f in fields_of(cls) if f.name == name)
    new = sample(hint, 7)
    got = replace(obj, **{name: new})
    want = dataclasses.replace(obj, **{name: new})
    assert type(got) is cls and got == want and got is not obj
    assert getattr(got, name) is new
    assert all(getattr(got, f.name) is getattr(obj, f.name) for f in fields_of(cls) if f.name != name)


@pytest.mark.parametrize("cls", TYPES, ids=[c.__name__ for c in TYPES])
def test_every_field_changed_at_once_and_none_changed(cls: type) -> None:
    obj, other = sample(cls), sample(cls, 5)
    changes = {f.name: getattr(other, f.name) for f in fields_of(cls)}
    assert replace(obj, **changes) == dataclasses.replace(obj, **changes) == other
    same = replace(obj)
    assert same == obj and same is not obj and type(same) is cls


@pytest.mark.parametrize("cls", TYPES, ids=[c.__name__ for c in TYPES])
def test_the_rules_classes_get_a_compiled_copy_unless_they_have_init_false_fields(cls: type) -> None:
    replace(sample(cls))
    compiled = dataclass_replace._COPIES[cls] is not dataclass_replace._slow
    assert compiled == all(f.init for f in dataclasses.fields(cls))


def test_a_name_that_is_no_field_is_dataclasses_type_error() -> None:
    obj = sample(CustomerState)
    with pytest.raises(TypeError) as theirs:
        dataclasses.replace(obj, no_such_field=1)
    with pytest.raises(TypeError) as ours:
        replace(obj, customer_id="c2", no_such_field=1)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError):
        replace(sample(RECORD_TYPES["PaymentAttempted"]), TOPIC="x")  # a ClassVar is no field


def test_a_non_dataclass_is_a_type_error() -> None:
    class Plain:
        x = 1

    with pytest.raises(TypeError, match="dataclass instances"):
        replace(cast(Any, Plain()), x=2)
    with pytest.raises(TypeError, match="dataclass instances"):
        replace(cast(Any, CustomerState), customer_id="c")  # the class, not an instance


BUILT: list[int] = []


@dataclass(frozen=True, slots=True)
class Checked:
    n: int
    label: str = "x"

    def __post_init__(self) -> None:
        BUILT.append(self.n)
        if self.n < 0:
            raise ValueError("n must not be negative")


def test_post_init_runs_on_each_copy() -> None:
    obj = Checked(1)
    BUILT.clear()
    two, labelled = replace(obj, n=2), replace(obj, label="y")
    assert BUILT == [2, 1]
    assert two == Checked(2) and labelled == Checked(1, "y")
    with pytest.raises(ValueError, match="negative"):
        replace(obj, n=-1)


@dataclass(frozen=True)
class Mixed:
    a: int
    b: int = field(default=0, kw_only=True)
    c: str = "c"
    d: tuple[int, ...] = field(default=(), kw_only=True)


def test_keyword_only_fields_between_positional_ones() -> None:
    obj = Mixed(1, "x", b=2, d=(3,))
    for name, value in {"a": 9, "b": 8, "c": "y", "d": (7,)}.items():
        assert replace(obj, **{name: value}) == dataclasses.replace(obj, **{name: value})
    assert replace(obj, a=5, d=()) == Mixed(5, "x", b=2)


@dataclass(frozen=True)
class Derived:
    a: int
    total: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", self.a * 10)


@dataclass
class WithInitVar:
    a: int
    scale: InitVar[int] = 1
    scaled: int = field(init=False, default=0)

    def __post_init__(self, scale: int) -> None:
        self.scaled = self.a * scale


@dataclass
class OwnInit:
    a: int
    b: int

    def __init__(self, b: int, a: int) -> None:  # the fields in another order: only keywords bind them right
        self.a, self.b = a, b


def test_classes_whose_init_is_not_just_their_fields_behave_as_dataclasses_replace() -> None:
    assert replace(Derived(1), a=2) == dataclasses.replace(Derived(1), a=2) == Derived(2)
    with pytest.raises(ValueError, match="init=False"):
        replace(Derived(1), total=5)
    assert replace(WithInitVar(2), a=3) == dataclasses.replace(WithInitVar(2), a=3)
    assert replace(WithInitVar(2), a=3, scale=4).scaled == 12
    assert replace(OwnInit(b=2, a=1), a=5) == OwnInit(b=2, a=5)
    for cls in (Derived, WithInitVar, OwnInit):
        assert dataclass_replace._COPIES[cls] is dataclass_replace._slow


def test_a_subclass_that_is_no_dataclass_of_its_own_stays_its_class() -> None:
    class Sub(Checked):
        __slots__ = ()

    got = replace(Sub(1), label="z")
    assert type(got) is Sub and got == dataclasses.replace(Sub(1), label="z")
