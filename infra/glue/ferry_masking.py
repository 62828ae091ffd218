"""Keyed, deterministic masking of email addresses: ferry's masking rules for the Glue job.

This is the Python twin of the Rust module ``shared::masking`` (read its module documentation for
the full rules). Both pass the shared vectors in ``tests/fixtures/masking-vectors.json`` byte for
byte, so a table copied by the Glue job and one copied by ferry's ``copy-table`` function mask
every address the same way. Standard library only; no Spark import.

Rules, in short:

* ``mask(address)`` = lower-case hex of HMAC-SHA256(key, normalised address) + ``@`` + domain. The
  normalised address has Unicode ``White_Space`` trimmed and ASCII letters lower-cased (non-ASCII
  characters are kept). An address whose normalised form already ends with ``@`` + domain is left
  as it is, so masking twice equals masking once. Empty and whitespace-only values stay.
* Each string value gets the first rule that applies: a matching attribute name above it (exact
  or glob with ``*``/``?``, case-sensitive, at any map depth) masks the whole value; else an
  embedded rule (``prefix + delimiter`` at the start) masks the segment up to the next delimiter;
  else ``detect_all`` masks every email-shaped substring in place.
* Non-string values and attribute names are never changed. A string set whose elements collide
  after masking keeps the first of each.

Two item forms are supported:

* **DynamoDB JSON** (``{"pk": {"S": "..."}}``): :meth:`Masker.mask_item` and :func:`mask_item`.
  This is the form of the test vectors and of the benchmark.
* **Plain Python values** (``{"pk": "...", "tags": ["..."]}``), the form Glue's DynamoDB connector
  gives a ``DynamicFrame`` record in ``Map.apply``: :meth:`Masker.mask_record`. Dicts are maps
  (their keys are attribute names), lists and tuples are lists, sets are string sets, ``str`` is a
  string; numbers, booleans, ``None``, bytes and anything else are left alone. The Glue job uses
  this form.
"""

import hashlib
import json
import re

__all__ = [
    "MaskingRules",
    "Masker",
    "RulesError",
    "WHITESPACE",
    "find_emails",
    "glob_match",
    "mask_item",
    "masker_for",
]

#: Unicode ``White_Space`` (what Rust's ``str::trim`` removes), trimmed from addresses.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

#: ASCII characters of an email local part (non-ASCII ones are local unless they are whitespace).
_LOCAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")

#: Dot-separated domain labels after the ``@``; stops before an empty label.
_LABELS = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")

_RULE_KEYS = ("key_secret_arn", "domain", "attributes", "embedded", "detect_all")

_RESERVED_TLDS = (".invalid", ".test", ".example", ".localhost")
_RESERVED_SLDS = ("example.com", "example.net", "example.org")


def _hmac_pads(key):
    """HMAC-SHA256 (RFC 2104) with the key absorbed: the inner and outer hash states, to be copied
    per message. Same result as ``hmac.new(key, msg, hashlib.sha256)``, with far less per-call work."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


class RulesError(ValueError):
    """The masking rules are malformed (the message names the field)."""


def ascii_lower(text):
    """Lower-cases ASCII letters only, whatever the Unicode version."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def glob_match(pattern, name):
    """Case-sensitive glob match of the whole name: ``*`` any run, ``?`` one character."""
    p_len, s_len = len(pattern), len(name)
    pi = si = 0
    star_p = star_s = -1
    while si < s_len:
        if pi < p_len:
            c = pattern[pi]
            if c == "*":
                pi += 1
                star_p, star_s = pi, si
                continue
            if c == "?" or c == name[si]:
                pi += 1
                si += 1
                continue
        if star_p < 0:
            return False
        star_s += 1
        pi, si = star_p, star_s
    return pattern[pi:].strip("*") == ""


def _domain_end(text, start):
    """End index of the domain starting at ``start``, or None (see :func:`find_emails`)."""
    match = _LABELS.match(text, start)
    if match is None:
        return None
    labels = match.group().split(".")
    end = None
    pos = start
    for i, label in enumerate(labels):
        pos += len(label)
        if i >= 1 and len(label) >= 2 and label.isalpha():
            end = pos
        pos += 1
    return end


def _next_email(text, pos, floor):
    """(start, at, end) of the next email-shaped substring with ``@`` at or after ``pos``."""
    while True:
        at = text.find("@", pos)
        if at < 0:
            return None
        start = at
        while start > floor:
            c = text[start - 1]
            if c in _LOCAL or (c > "\x7f" and c not in WHITESPACE):
                start -= 1
            else:
                break
        while start < at and text[start] == ".":
            start += 1
        if start < at:
            end = _domain_end(text, at + 1)
            if end is not None:
                return start, at, end
        pos = at + 1


def find_emails(text):
    """Every email-shaped substring of ``text``, left to right, never overlapping.

    ``local@domain``: ``local`` is the longest run of ASCII letters, digits, ``._%+-`` and
    non-ASCII characters other than Unicode whitespace, ending at the ``@`` (not reaching back into
    the previous match), leading dots dropped, not empty;
    ``domain`` is dot-separated labels of ASCII letters, digits and ``-``, cut after its last label
    that is ASCII letters only, at least two long and not the first label.
    """
    found = []
    pos = 0
    while True:
        match = _next_email(text, pos, pos)
        if match is None:
            return found
        found.append(text[match[0] : match[2]])
        pos = match[2]


def _check_domain(domain):
    lower = domain.lower()
    reserved = any(lower.endswith(t) or lower == t[1:] for t in _RESERVED_TLDS) or any(
        lower == d or lower.endswith("." + d) for d in _RESERVED_SLDS
    )
    well_formed = all(
        label and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
        for label in lower.split(".")
    )
    if not (reserved and well_formed):
        raise RulesError(
            f"masking.domain: '{domain}' is not a reserved domain: masked addresses must never be"
            " deliverable (use e.g. example.invalid, *.test, example.com)"
        )


class MaskingRules:
    """The masking rules (ferry's ``MaskingSpec``); the key is not part of them."""

    def __init__(self, key_secret_arn, domain, attributes, embedded, detect_all):
        self.key_secret_arn = key_secret_arn
        self.domain = domain
        self.attributes = list(attributes)
        self.embedded = [(rule["prefix"], rule["delimiter"]) for rule in embedded]
        self.detect_all = detect_all

    @classmethod
    def from_dict(cls, raw):
        """Validates a ``MaskingSpec`` object: every field present, no unknown field."""
        if not isinstance(raw, dict):
            raise RulesError("masking: must be an object")
        unknown = sorted(set(raw) - set(_RULE_KEYS))
        if unknown:
            raise RulesError(f"masking.{unknown[0]}: unknown field (expected one of: {', '.join(_RULE_KEYS)})")
        missing = [k for k in _RULE_KEYS if k not in raw]
        if missing:
            raise RulesError(f"masking.{missing[0]}: is required")
        arn, domain, attributes, embedded, detect_all = (raw[k] for k in _RULE_KEYS)
        if not isinstance(arn, str) or not arn.startswith("arn:") or ":secretsmanager:" not in arn:
            raise RulesError("masking.key_secret_arn: must be a Secrets Manager secret ARN")
        if not isinstance(domain, str) or not domain:
            raise RulesError("masking.domain: must be a non-empty string")
        _check_domain(domain)
        if not isinstance(attributes, list) or not all(
            isinstance(a, str) and 0 < len(a) <= 255 for a in attributes
        ):
            raise RulesError("masking.attributes: must be a list of names of 1-255 characters")
        if not isinstance(embedded, list):
            raise RulesError("masking.embedded: must be a list")
        for i, rule in enumerate(embedded):
            if not isinstance(rule, dict) or set(rule) != {"prefix", "delimiter"}:
                raise RulesError(f"masking.embedded[{i}]: must be {{\"prefix\": ..., \"delimiter\": ...}}")
            for field in ("prefix", "delimiter"):
                if not isinstance(rule[field], str) or not rule[field].strip():
                    raise RulesError(f"masking.embedded[{i}].{field}: must not be empty")
        if not isinstance(detect_all, bool):
            raise RulesError("masking.detect_all: must be true or false")
        if not attributes and not embedded and not detect_all:
            raise RulesError("masking: masks nothing: give attributes, embedded or detect_all: true")
        return cls(arn, domain, attributes, embedded, detect_all)

    @classmethod
    def from_json(cls, text):
        """Parses the ``--masking_rules`` job argument."""
        try:
            raw = json.loads(text)
        except ValueError as err:
            raise RulesError(f"masking: not valid JSON: {err}") from None
        return cls.from_dict(raw)


class Masker:
    """Masks items with one key and one set of rules; build once per process."""

    #: Attribute names remembered per Masker (names repeat across items; the cap bounds memory).
    NAME_CACHE_LIMIT = 4096

    def __init__(self, key, rules):
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not key:
            raise RulesError("masking.key_secret_arn: the masking key is empty")
        if isinstance(rules, dict):
            rules = MaskingRules.from_dict(rules)
        self._inner, self._outer = _hmac_pads(bytes(key))
        self.domain = ascii_lower(rules.domain)
        self._at_domain = "@" + self.domain
        self._exact = frozenset(a for a in rules.attributes if "*" not in a and "?" not in a)
        self._globs = tuple(a for a in rules.attributes if "*" in a or "?" in a)
        self._embedded = tuple((prefix + delimiter, delimiter) for prefix, delimiter in rules.embedded)
        self._detect_all = rules.detect_all
        self._names = {}
        #: Addresses masked (HMACs computed) since this Masker was built.
        self.addresses = 0

    def __repr__(self):
        return f"Masker(key=<redacted>, domain={self.domain!r})"

    # -- names ---------------------------------------------------------------------------------

    def _name_matches(self, name):
        hit = self._names.get(name)
        if hit is None:
            hit = name in self._exact or any(glob_match(g, name) for g in self._globs)
            if len(self._names) < self.NAME_CACHE_LIMIT:
                self._names[name] = hit
        return hit

    # -- strings -------------------------------------------------------------------------------

    def mask_address(self, address):
        """``mask(address)`` of an already trimmed address (no already-masked check)."""
        return self._mask_lowered(ascii_lower(address))

    def _mask_lowered(self, lowered):
        self.addresses += 1
        inner = self._inner.copy()
        inner.update(lowered.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest() + self._at_domain

    def _whole(self, text):
        address = text.strip(WHITESPACE)
        if not address:
            return None
        lowered = ascii_lower(address)
        if lowered.endswith(self._at_domain):
            return None
        return self._mask_lowered(lowered)

    def _embedded_part(self, text, lead, delimiter):
        start = len(lead)
        end = text.find(delimiter, start)
        if end < 0:
            end = len(text)
        address = text[start:end].strip(WHITESPACE)
        if not address:
            return None
        lowered = ascii_lower(address)
        if lowered.endswith(self._at_domain):
            return None
        return text[:start] + self._mask_lowered(lowered) + text[end:]

    def _detected(self, text):
        if "@" not in text:
            return None
        parts = []
        copied = pos = 0
        while True:
            match = _next_email(text, pos, pos)
            if match is None:
                break
            start, at, end = match
            pos = end
            lowered = ascii_lower(text[start:end])
            if lowered[at - start + 1 :] == self.domain:
                continue
            parts.append(text[copied:start])
            parts.append(self._mask_lowered(lowered))
            copied = end
        if not parts:
            return None
        parts.append(text[copied:])
        return "".join(parts)

    def mask_string(self, text, whole):
        """The masked form of one string value, or None when it stays as it is."""
        if whole:
            return self._whole(text)
        for lead, delimiter in self._embedded:
            if text.startswith(lead):
                return self._embedded_part(text, lead, delimiter)
        if self._detect_all:
            return self._detected(text)
        return None

    def _strings(self, values, whole):
        """Masks a list of strings; returns (new list or None, number changed)."""
        changed = 0
        out = []
        for value in values:
            masked = self.mask_string(value, whole) if isinstance(value, str) else None
            if masked is None:
                out.append(value)
            else:
                out.append(masked)
                changed += 1
        return (out if changed else None), changed

    # -- DynamoDB JSON -------------------------------------------------------------------------

    def _attribute(self, value, whole):
        """Masks one DynamoDB JSON attribute value in place; returns the strings changed."""
        text = value.get("S")
        if text is not None:
            masked = self.mask_string(text, whole)
            if masked is None:
                return 0
            value["S"] = masked
            return 1
        inner = value.get("M")
        if inner is not None:
            count = 0
            for name, child in inner.items():
                count += self._attribute(child, whole or self._name_matches(name))
            return count
        elements = value.get("L")
        if elements is not None:
            count = 0
            for child in elements:
                count += self._attribute(child, whole)
            return count
        strings = value.get("SS")
        if strings is not None:
            out, changed = self._strings(strings, whole)
            if changed:
                value["SS"] = list(dict.fromkeys(out))
            return changed
        return 0

    def mask_item(self, item):
        """Masks a DynamoDB JSON item in place; returns ``(item, strings changed)``."""
        count = 0
        for name, value in item.items():
            count += self._attribute(value, self._name_matches(name))
        return item, count

    # -- plain values (Glue DynamicFrame records) ----------------------------------------------

    def _plain(self, value, whole):
        """Masks one plain value; returns ``(value, strings changed)`` (dicts and lists in place)."""
        if isinstance(value, str):
            masked = self.mask_string(value, whole)
            return (value, 0) if masked is None else (masked, 1)
        if isinstance(value, dict):
            count = 0
            for name, child in value.items():
                new, n = self._plain(child, whole or self._name_matches(name))
                if n:
                    value[name] = new
                    count += n
            return value, count
        if isinstance(value, list):
            count = 0
            for i, child in enumerate(value):
                new, n = self._plain(child, whole)
                if n:
                    value[i] = new
                    count += n
            return value, count
        if isinstance(value, tuple):
            items, count = self._plain(list(value), whole)
            return (tuple(items) if count else value), count
        if isinstance(value, (set, frozenset)):
            out, changed = self._strings(sorted(value, key=repr), whole)
            return (type(value)(out) if changed else value), changed
        return value, 0

    def mask_record(self, record):
        """Masks a plain record (a dict of attribute name to value) in place; returns
        ``(record, strings changed)``."""
        return self._plain(record, False)


_MASKERS = {}


def masker_for(key, rules):
    """A Masker for ``key`` and ``rules`` (a dict or :class:`MaskingRules`), built once per process."""
    rules_dict = rules if isinstance(rules, dict) else {
        "key_secret_arn": rules.key_secret_arn,
        "domain": rules.domain,
        "attributes": rules.attributes,
        "embedded": [{"prefix": p, "delimiter": d} for p, d in rules.embedded],
        "detect_all": rules.detect_all,
    }
    if isinstance(key, str):
        key = key.encode("utf-8")
    cache_key = (hashlib.sha256(key).digest(), json.dumps(rules_dict, sort_keys=True))
    masker = _MASKERS.get(cache_key)
    if masker is None:
        masker = _MASKERS[cache_key] = Masker(key, rules_dict)
    return masker


def mask_item(item, key_bytes, rules):
    """Masks a DynamoDB JSON item in place with ``key_bytes`` and ``rules`` (a ``MaskingSpec``
    dict); returns ``(item, number of string values changed)``."""
    return masker_for(key_bytes, rules).mask_item(item)
