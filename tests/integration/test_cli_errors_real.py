"""What a person meets on wrong input: every argument checked before any work, in one line; `payment` says which of
date, code, modifier, locality or GPCI is missing, and what exists instead."""

from __future__ import annotations

import pytest

from cmsref.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def run(mirror_db, capsys):
    def run(*args):
        with pytest.raises(SystemExit) if args[-1] == "!usage" else _nothing():
            code = main(["payment", "--db", str(mirror_db), *[a for a in args if a != "!usage"]])
            out = capsys.readouterr()
            return code, out.out, out.err
        out = capsys.readouterr()
        return 2, out.out, out.err
    return run


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("args, message", [
    (["37252", "--date", "2024-13-45"], "argument --date: '2024-13-45' is not a date of the form YYYY-MM-DD"),
    (["3725", "--date", "2024-06-01"], "argument hcpcs: '3725' is not a HCPCS / CPT code"),
    (["37252", "--date", "2024-06-01", "--locality", "01182"], "argument --locality: '01182' is not MAC:LOCALITY"),
    (["37252", "--date", "2024-06-01", "--modifier", "TCX"], "argument --modifier: 'TCX' is not a modifier"),
])
def test_malformed_arguments_are_refused_in_one_line(run, args, message):
    code, out, err = run(*args, "!usage")
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["37252", "--date", "2019-06-01"], "no loaded PFS release covers that date of service. Loaded windows of 2019 "
                                        "(end exclusive): none; all loaded: 2022A 2022-01-01..2023-01-01; 2023D "),
    (["37999", "--date", "2024-06-01"], "37999 is not in the PFS release in effect (2024B)"),
    (["37252", "--date", "2024-06-01", "--modifier", "TC"], "37252 has no modifier 'TC' in 2024B (it has: none)"),
    (["37252", "--date", "2024-06-01", "--locality", "01182:99"],
     "MAC 01182 has no locality 99 in 2024B (its localities: 17 OXNARD-THOUSAND OAKS-VENTURA; 18 LOS ANGELES"),
    (["37252", "--date", "2024-06-01", "--locality", "99999:01"], "no MAC 99999 in the GPCI file of 2024B (MACs: 01112"),
    (["37252", "--date", "2023-11-01", "--locality", "01182:18"], "no GPCI file covers that date"),
])
def test_payment_says_what_is_missing(run, args, message):
    code, out, err = run(*args)
    assert code != 0 and err.startswith("cmsref: error: no PFS payment for ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_payment_shows_the_locality_name(run):
    code, out, _ = run("37252", "--date", "2024-06-01", "--locality", "01182:18", "--format", "csv")
    assert code == 0
    assert out.splitlines()[1].startswith("2024B,37252,,A,01182:18,LOS ANGELES-LONG BEACH-ANAHEIM (LOS ANGELES/ORANGE "
                                          "CNTY),facility,all,33.2875,87.96,")
