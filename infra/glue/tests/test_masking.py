"""The Python masking against the shared vectors (byte for byte), and its helpers."""

import copy
import json
import os
import unicodedata

import pytest

import ferry_masking as fm

VECTORS_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "fixtures", "masking-vectors.json"
)

with open(VECTORS_PATH, encoding="utf-8") as f:
    VECTORS = json.load(f)
KEY = VECTORS["key"].encode("utf-8")
CASES = VECTORS["cases"]


def canonical(value):
    """Compact JSON, keys sorted, non-ASCII kept: the form both suites compare."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def test_there_are_enough_uniquely_named_vectors():
    names = [case["name"] for case in CASES]
    assert len(names) >= 15
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector_masks_byte_for_byte(case):
    item = copy.deepcopy(case["input"])
    masked, count = fm.mask_item(item, KEY, case["rules"])
    assert canonical(masked) == canonical(case["expected"])
    assert count == case["masked"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector_is_idempotent(case):
    item = copy.deepcopy(case["expected"])
    masked, count = fm.mask_item(item, KEY, case["rules"])
    assert count == 0
    assert canonical(masked) == canonical(case["expected"])


class Opaque:
    """A non-string scalar of a plain record (number, binary, boolean, null)."""

    def __init__(self, kind, value):
        self.kind, self.value = kind, value


def to_plain(value):
    """DynamoDB JSON -> the plain values Glue's connector gives (sets as Python sets)."""
    (kind, inner), = value.items()
    if kind == "S":
        return inner
    if kind == "SS":
        return set(inner)
    if kind == "L":
        return [to_plain(v) for v in inner]
    if kind == "M":
        return {k: to_plain(v) for k, v in inner.items()}
    return Opaque(kind, inner)


def from_plain(value):
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (set, frozenset)):
        return {"SS": sorted(value)}
    if isinstance(value, list):
        return {"L": [from_plain(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: from_plain(v) for k, v in value.items()}}
    return {value.kind: value.value}


def sort_sets(value):
    if isinstance(value, dict):
        return {k: (sorted(v) if k == "SS" else sort_sets(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [sort_sets(v) for v in value]
    return value


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_plain_records_mask_like_dynamodb_json(case):
    record = {k: to_plain(v) for k, v in case["input"].items()}
    masker = fm.Masker(KEY, case["rules"])
    masked, count = masker.mask_record(record)
    got = {k: from_plain(v) for k, v in masked.items()}
    assert canonical(got) == canonical(sort_sets(case["expected"]))
    assert count == case["masked"]


# -- rules ---------------------------------------------------------------------------------------

ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:k"


def rules(**overrides):
    raw = {"key_secret_arn": ARN, "domain": "example.invalid", "attributes": ["email"], "embedded": [], "detect_all": False}
    raw.update(overrides)
    return raw


def test_rules_parse_the_masking_spec_json():
    parsed = fm.MaskingRules.from_json(
        json.dumps(rules(embedded=[{"prefix": "user-email", "delimiter": "|"}], detect_all=True))
    )
    assert parsed.embedded == [("user-email", "|")]
    assert parsed.detect_all is True


@pytest.mark.parametrize(
    "raw, problem",
    [
        (dict(rules(), extra=1), "masking.extra: unknown field"),
        ({k: v for k, v in rules().items() if k != "domain"}, "masking.domain: is required"),
        (rules(domain="gmail.com"), "is not a reserved domain"),
        (rules(attributes=[], detect_all=False), "masks nothing"),
        (rules(attributes=[""]), "masking.attributes"),
        (rules(embedded=[{"prefix": "x"}]), "masking.embedded[0]"),
        (rules(embedded=[{"prefix": " ", "delimiter": "|"}]), "masking.embedded[0].prefix"),
        (rules(detect_all="yes"), "masking.detect_all"),
        (rules(key_secret_arn="my-secret"), "masking.key_secret_arn"),
        ([], "must be an object"),
    ],
)
def test_bad_rules_name_their_field(raw, problem):
    with pytest.raises(fm.RulesError, match=None) as err:
        fm.MaskingRules.from_dict(raw)
    assert problem in str(err.value)


def test_rules_json_must_be_json():
    with pytest.raises(fm.RulesError, match="not valid JSON"):
        fm.MaskingRules.from_json("{")


def test_an_empty_key_is_refused():
    with pytest.raises(fm.RulesError, match="empty"):
        fm.Masker(b"", rules())


def test_repr_never_shows_the_key():
    masker = fm.Masker(b"super-secret-value", rules())
    assert "super-secret-value" not in repr(masker)
    assert "<redacted>" in repr(masker)


# -- building blocks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, name, hit",
    [
        ("email", "email", True),
        ("email", "Email", False),
        ("*Email", "pendingEmail", True),
        ("*Email", "email", False),
        ("*", "", True),
        ("email?", "email1", True),
        ("email?", "email", False),
        ("email?", "email10", False),
        ("??", "éß", True),
        ("a*b*c", "aXbYbZc", True),
        ("a*b*c", "aXbYbZ", False),
        ("*aab", "aaab", True),
        ("*é", "ééè", False),
        ("日本*語", "日本の語", True),
    ],
)
def test_glob(pattern, name, hit):
    assert fm.glob_match(pattern, name) is hit


@pytest.mark.parametrize(
    "text, found",
    [
        ("Contacted a@b.com about the case", ["a@b.com"]),
        ("cc: Jane.Doe+tax@Mail.Example.co.uk, bob_1@x-y.org.", ["Jane.Doe+tax@Mail.Example.co.uk", "bob_1@x-y.org"]),
        ("a@localhost a@b.c a@b.c0m a@b..com @b.com a@.com", []),
        ("a@b.com.x", ["a@b.com"]),
        ("a@b.com2.org", ["a@b.com2.org"]),
        ("see ...bob@x.com", ["bob@x.com"]),
        ("see...bob@x.com", ["see...bob@x.com"]),
        ("a@b@c.com", ["b@c.com"]),
        ("a@b.com.x@c.com", ["a@b.com", "x@c.com"]),
        ("jörg@example.de", ["jörg@example.de"]),
        ("«bob@x.com»", ["«bob@x.com"]),
        ("bob@bücher.de", []),
        ("\u00a0bob@x.com\u3000", ["bob@x.com"]),
        ("", []),
    ],
)
def test_find_emails(text, found):
    assert fm.find_emails(text) == found


def test_whitespace_is_unicode_white_space():
    # The 25 code points of the Unicode White_Space property (what Rust's str::trim removes).
    assert len(fm.WHITESPACE) == len(set(fm.WHITESPACE)) == 25
    assert all(c.isspace() for c in fm.WHITESPACE)
    # Python's isspace() also counts the four ASCII separators, which White_Space does not.
    extra = {chr(c) for c in range(0x110000) if chr(c).isspace()} - set(fm.WHITESPACE)
    assert extra == {"\x1c", "\x1d", "\x1e", "\x1f"}, sorted(map(unicodedata.name, extra, ["?"] * len(extra)))


def test_ascii_lower_leaves_non_ascii_alone():
    assert fm.ascii_lower("ÀB\u212aC") == "Àb\u212ac"
    assert fm.ascii_lower("ABC") == "abc"


def test_the_mask_is_hmac_sha256_of_the_normalised_address():
    # Known answer computed independently: `openssl dgst -sha256 -hmac key` of "alice@example.com".
    item = {"email": {"S": " Alice@EXAMPLE.com\n"}}
    fm.Masker(b"key", rules()).mask_item(item)
    assert item["email"]["S"] == "7f5869472f7937382ee449fa11667e1d9eb381ed70999a7177ff6faf6ca456dd@example.invalid"


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"y" * 65, "ключ — long key ".encode() * 9])
def test_precomputed_hmac_equals_stdlib_hmac(key):
    import hashlib
    import hmac

    masker = fm.Masker(key, rules())
    for address in ("a@b.com", "x" * 200 + "@example.com", "zoë@example.de"):
        want = hmac.new(key, address.encode("utf-8"), hashlib.sha256).hexdigest() + "@example.invalid"
        assert masker.mask_address(address) == want


def test_masker_for_is_cached_per_key_and_rules():
    a = fm.masker_for(b"k1", rules())
    assert fm.masker_for(b"k1", rules()) is a
    assert fm.masker_for(b"k2", rules()) is not a
    assert fm.masker_for(b"k1", rules(detect_all=True)) is not a


def test_plain_values_other_than_strings_are_untouched():
    masker = fm.Masker(KEY, rules(attributes=["*"]))
    record = {"n": 1, "f": 2.5, "b": True, "z": None, "raw": b"a@b.com", "t": ("a@b.com", 3)}
    masked, count = masker.mask_record(record)
    assert count == 1
    assert masked["n"] == 1 and masked["f"] == 2.5 and masked["b"] is True and masked["z"] is None
    assert masked["raw"] == b"a@b.com"
    assert masked["t"][1] == 3 and masked["t"][0].endswith("@example.invalid")


def test_hmac_count_is_tracked():
    masker = fm.Masker(KEY, rules(attributes=[], detect_all=True))
    masker.mask_item({"t": {"S": "a@b.com and c@d.com"}})
    assert masker.addresses == 2
