"""Small parsers for the string formats Kubernetes and container registries define.

JSON Schema can say "a string"; it cannot say "a quantity no bigger than that other quantity" or
"an image reference with a tag". These checks return an error message (or None) so the validator can
attach it to the right field; the kubelet or the registry would otherwise report the same mistake
much later, far from the file that caused it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(
    r"^\+?(?P<number>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
            "P": Decimal("1e15"), "E": Decimal("1e18")}  # fmt: skip


def quantity_string(value: str | int | float) -> str:
    """YAML numbers (`cpu: 1`, `cpu: 0.5`) as the quantity string Kubernetes would store."""
    return value if isinstance(value, str) else format(Decimal(str(value)).normalize(), "f")


def parse_quantity(value: str) -> Decimal | None:
    """A quantity's value in base units (cores, bytes), or None when it is not a valid quantity."""
    match = _QUANTITY.match(value)
    if match is None:
        return None
    suffix = match.group("suffix") or ""
    try:
        number = Decimal(match.group("number"))
        if suffix in _BINARY:
            return number * _BINARY[suffix]
        if suffix[:1] in ("e", "E"):
            return number * (Decimal(10) ** int(suffix[1:]))
        return number * _DECIMAL[suffix]
    except (InvalidOperation, OverflowError, ValueError):
        return None


# distribution/reference grammar, without IPv6 registries
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
_PATH_RE = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageRef:
    """A parsed container image reference."""

    repository: str
    tag: str | None
    digest: str | None


def parse_image(reference: str) -> ImageRef | str:
    """The parsed reference, or a message saying what is wrong with it."""
    rest, _, digest = reference.partition("@")
    if "@" in reference and not (
        _DIGEST.match(digest) and (not digest.startswith("sha256:") or _SHA256.match(digest))
    ):
        return f"{reference!r} has an invalid digest; expected @sha256: followed by 64 hex digits"
    name, tag = rest, None
    slash, colon = rest.rfind("/"), rest.rfind(":")
    if colon > slash:
        name, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.match(tag):
            return f"{reference!r} has an invalid tag {tag!r}"
    first, _, rest_of_path = name.partition("/")
    # Like Docker: the first component is a registry only if it looks like a host (dot, port, localhost).
    has_domain = bool(rest_of_path) and ("." in first or ":" in first or first == "localhost")
    path = rest_of_path if has_domain else name
    if (has_domain and not _DOMAIN_RE.match(first)) or not _PATH_RE.match(path) or len(name) > 255:
        if path != path.lower():
            return f"{reference!r} is not a valid image reference: repository names must be lowercase"
        return f"{reference!r} is not a valid image reference (expected registry/repository:tag)"
    return ImageRef(repository=name, tag=tag, digest=digest or None)
