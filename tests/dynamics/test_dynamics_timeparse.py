"""Export-time parsing: file names, 24- and 12-hour clocks, and the text-sort trap."""
from datetime import datetime

import pytest

from escrutinio.timeparse import from_filename, order_by_time, parse_time, parse_times, resolve_times
from escrutinio.errors import InputError


def test_bundled_file_names():
    assert from_filename("computo_20201018T213655.csv.gz") == datetime(2020, 10, 18, 21, 36, 55)
    assert from_filename("trep_2019-10-20T19-40-57.csv.gz") == datetime(2019, 10, 20, 19, 40, 57)
    assert from_filename("acta.2019.10.25.21.09.30.xlsx") == datetime(2019, 10, 25, 21, 9, 30)
    assert from_filename("no_time_here.csv") is None


def test_twelve_hour_clock_sorts_by_time_not_text():
    # the trap documented in the 2019 audit debate: sorted as text, "10:05 PM" comes before
    # "9:15 PM" and "12:10 AM" (just after midnight) after "11:50 AM"
    stamps = ["20/10/2019 9:15 PM", "20/10/2019 11:50 AM", "20/10/2019 10:05 PM", "20/10/2019 12:10 AM",
              "20/10/2019 12:30 PM"]
    truth = ["20/10/2019 12:10 AM", "20/10/2019 11:50 AM", "20/10/2019 12:30 PM", "20/10/2019 9:15 PM",
             "20/10/2019 10:05 PM"]
    assert sorted(stamps) == ["20/10/2019 10:05 PM", "20/10/2019 11:50 AM", "20/10/2019 12:10 AM",
                              "20/10/2019 12:30 PM", "20/10/2019 9:15 PM"]  # what a text sort does
    times = parse_times(stamps)
    assert [stamps[i] for i in order_by_time(times)] == truth
    assert parse_time("20/10/2019 12:10 AM").hour == 0
    assert parse_time("20/10/2019 12:30 PM").hour == 12


@pytest.mark.parametrize("text,hour", [("2019-10-20 7:40:57 p. m.", 19), ("2019-10-20 7:40 a.m.", 7),
                                       ("2019-10-20 07:40 PM", 19), ("2019-10-20T19:40:57", 19)])
def test_meridiem_spellings(text, hour):
    assert parse_time(text).hour == hour


def test_time_without_date_needs_a_default():
    with pytest.raises(ValueError):
        parse_time("7:40 PM")
    assert parse_time("7:40 PM", default_date=datetime(2019, 10, 20)) == datetime(2019, 10, 20, 19, 40)


def test_unreadable_time_names_its_row():
    with pytest.raises(InputError) as e:
        parse_times(["2019-10-20 19:40", "yesterday"], source="times.csv")
    assert e.value.row == 2


def test_explicit_mapping_wins_over_file_name():
    got = resolve_times(["a/computo_20201018T213655.csv.gz", "b/x.csv"], {"x.csv": "2020-10-19 08:18:34"})
    assert got == [datetime(2020, 10, 18, 21, 36, 55), datetime(2020, 10, 19, 8, 18, 34)]
    # undated last
    assert order_by_time([None, datetime(2020, 1, 2), datetime(2020, 1, 1)]) == [2, 1, 0]
