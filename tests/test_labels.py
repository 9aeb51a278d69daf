"""How sources are named to people: the kind of text (the Council named when it adopted the act, web pages marked as
not official) and the date ("7 June 2016", or "date unknown")."""

from __future__ import annotations

import pytest

from assistant.labels import date_label, kind_label


@pytest.mark.parametrize(
    "value,label",
    [("2016-06-07", "7 June 2016"), ("2003-12-12", "12 December 2003"), ("2019-05-01", "1 May 2019")],
)
def test_a_date_reads_day_month_year(value, label):
    assert date_label(value) == label


def test_a_missing_date_says_it_is_unknown():
    assert date_label("") == "date unknown"


@pytest.mark.parametrize("value", ["2016", "2016-13-01", "spring 2016"])
def test_a_date_that_is_not_an_iso_day_is_shown_as_given(value):
    assert date_label(value) == value


@pytest.mark.parametrize(
    "kind,label",
    [
        ("treaty", "Treaty"),
        ("official summary", "Official EUR-Lex summary"),
        ("common position", "Common position"),
        ("white paper", "White paper"),  # a kind without a name of its own: capitalised
        ("", "Document"),
    ],
)
def test_each_kind_has_a_name(kind, label):
    assert kind_label(kind) == label


def test_the_council_is_named_when_it_adopted_the_act():
    assert kind_label("decision", title="Council Decision on the mission") == "Council decision"
    assert kind_label("regulation", title="Council Regulation concerning restrictive measures") == "Council regulation"
    # CFSP numbering, either form, says the Council adopted it even when the title does not
    assert kind_label("decision", label="Decision (CFSP) 2021/123") == "Council decision"
    assert kind_label("decision", label="Decision 2015/456/CFSP") == "Council decision"
    # otherwise not
    assert kind_label("decision", title="Decision on the Facility", label="Decision 2015/456/EU") == "Decision"
    assert kind_label("treaty", title="Council treaty") == "Treaty"  # only acts


def test_web_pages_and_dropped_in_documents_are_marked_not_official():
    assert kind_label("web page", tier=4) == "Web page — not an official legal text"
    assert kind_label("document", tier=5) == "Document — not an official legal text"
    assert kind_label("decision", tier=4, title="Council Decision") == "Council decision — not an official legal text"
    assert kind_label("decision", tier=3) == "Decision"  # an official tier stays unmarked
