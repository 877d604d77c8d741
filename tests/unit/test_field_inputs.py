"""What a person types (a CLI argument, a query parameter or a /lines value) is read by the field it names in
core/fields.py: the CLI and the server accept and refuse exactly the same inputs, and normalise them the same way."""

import argparse

import pytest

from cmsref import cli
from cmsref.serve import inputs

REFUSED = object()

# (field, input, what both read it as, or REFUSED)
INPUTS = [
    ("hcpcs", "37252", "37252"), ("hcpcs", "j0179", "J0179"), ("hcpcs", "0001F", "0001F"),
    ("hcpcs", "3725", REFUSED), ("hcpcs", "372521", REFUSED), ("hcpcs", "37252\n", REFUSED),
    ("hcpcs", " 37252", REFUSED), ("hcpcs", "", REFUSED), ("hcpcs", "3725\u0131", REFUSED),  # dotless i upper-cases to I
    ("hcpcs", "372-2", REFUSED),
    ("modifier", "26", "26"), ("modifier", "tc", "TC"), ("modifier", "", ""), ("modifier", "TCX", REFUSED),
    ("modifier", "2", REFUSED), ("modifier", "26\n", REFUSED), ("modifier", "\u00df", REFUSED),  # sharp s upper-cases to SS
    ("locality", "01182:18", ("01182", "18")), ("locality", "1182:8", ("01182", "08")), ("locality", "", None),
    ("locality", "01182", REFUSED), ("locality", "011823:18", REFUSED), ("locality", "01182:180", REFUSED),
    ("locality", ":18", REFUSED), ("locality", "01182:", REFUSED), ("locality", "01182:18:1", REFUSED),
    ("locality", "01182:18\n", REFUSED), ("locality", "\u0661\u0661\u0668\u0662:18", REFUSED),  # Arabic-Indic digits
    ("locality", "+1182:18", REFUSED), ("locality", "ab:cd", REFUSED),
    ("date", "2024-06-01", "2024-06-01"), ("date", "2024-02-29", "2024-02-29"), ("date", "2023-02-29", REFUSED),
    ("date", "2024-13-45", REFUSED), ("date", "20240601", REFUSED), ("date", "2024-W23-6", REFUSED),
    ("date", "2024-6-1", REFUSED), ("date", "June", REFUSED), ("date", "2024-06-01\n", REFUSED),
    ("date", "2024-06-01T00:00", REFUSED), ("date", "\u0662024-06-01", REFUSED),
]
EXPECTED = {"hcpcs": "is not a HCPCS / CPT code (5 letters or digits, e.g. 37252)",
            "modifier": "is not a modifier (2 letters or digits, e.g. 26 or TC)",
            "locality": "is not MAC:LOCALITY (digits, e.g. 01182:18)",
            "date": "is not a date of the form YYYY-MM-DD (e.g. 2024-06-01)"}


def via_cli(field: str, text: str):
    check = {"hcpcs": cli._hcpcs, "modifier": cli._modifier, "locality": cli._locality, "date": cli._date}[field]
    try:
        return check(text)
    except argparse.ArgumentTypeError as exc:
        return REFUSED, str(exc)


def via_server(field: str, text: str):
    check = {"hcpcs": inputs._hcpcs, "modifier": inputs._modifier, "locality": inputs._locality,
             "date": inputs._date}[field]
    try:
        return check(text, "p")
    except inputs.BadInput as exc:
        assert exc.parameter == "p"
        return REFUSED, exc.message


@pytest.mark.parametrize("read_by", [via_cli, via_server], ids=["cli", "server"])
@pytest.mark.parametrize("field, text, read", INPUTS)
def test_the_cli_and_the_server_read_an_input_as_its_field_does(read_by, field, text, read):
    got = read_by(field, text)
    if read is REFUSED:
        assert got[0] is REFUSED and got[1] == f"{text!r} {EXPECTED[field]}"
    else:
        assert got == read


@pytest.mark.parametrize("field, value", [("hcpcs", 37252), ("hcpcs", ["37252"]), ("modifier", 26), ("date", 20240601),
                                          ("locality", 1182), ("locality", {"mac": "01182"})])
def test_the_server_refuses_a_json_value_that_is_not_a_string(field, value):
    assert via_server(field, value) == (REFUSED, f"{value!r} {EXPECTED[field]}")


def test_a_missing_parameter_is_said_with_what_is_expected():
    with pytest.raises(inputs.BadInput, match=r"^missing: a HCPCS / CPT code \(5 letters or digits, e.g. 37252\) is "
                                              r"expected$"):
        inputs._hcpcs(None)
    assert (inputs._modifier(None), inputs._locality(None)) == ("", None)
