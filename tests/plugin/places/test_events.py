"""Events from camera dates: where they split, what they are called, which photo is the cover."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from plugin.places.events import EventRules, cover_index, date_range, event_name, event_place, event_starts

NAN = float("nan")
T0 = datetime(2023, 8, 12, 9, 0)


def seconds(*times: datetime) -> np.ndarray:
    return np.array(times, dtype="datetime64[s]").astype(np.float64)


def test_a_gap_longer_than_the_setting_starts_a_new_event() -> None:
    # GIVEN a morning, an afternoon 5 h after it, and the next morning (a night of 14 h between)
    times = [T0, T0 + timedelta(minutes=20), T0 + timedelta(hours=5, minutes=20), T0 + timedelta(days=1)]
    no_gps = np.full(4, NAN)
    # WHEN split with a 6 h gap, and with a 4 h one
    six = event_starts(seconds(*times), no_gps, no_gps, EventRules(gap_s=6 * 3600))
    four = event_starts(seconds(*times), no_gps, no_gps, EventRules(gap_s=4 * 3600))
    # THEN the day is one event and the next morning another; a 4 h gap also cuts the afternoon off
    assert six.tolist() == [0, 3]
    assert four.tolist() == [0, 2, 3]


def test_photos_far_apart_split_even_within_the_gap_unless_they_are_minutes_apart() -> None:
    # GIVEN Lisbon at 9:00 and 10:00, Berlin at 13:00 (a flight), and a train window photo 150 km on at 13:20
    times = seconds(T0, T0 + timedelta(hours=1), T0 + timedelta(hours=4), T0 + timedelta(hours=4, minutes=20))
    lat = np.array([38.71, 38.72, 52.52, 51.30])
    lon = np.array([-9.14, -9.15, 13.40, 12.37])
    # WHEN split (6 h gap; 100 km at least an hour apart)
    starts = event_starts(times, lat, lon, EventRules())
    # THEN Berlin starts a new event; the train photo, 20 minutes on, stays with it
    assert starts.tolist() == [0, 2]
    # AND with the distance rule off it is all one event
    assert event_starts(times, lat, lon, EventRules(split_km=0)).tolist() == [0]


def test_photos_without_gps_neither_cut_nor_bridge_a_journey() -> None:
    # GIVEN Lisbon, a photo without GPS, then Berlin 3 h later; then (after a night) photos without GPS and Berlin
    day2 = T0 + timedelta(days=1)
    times = seconds(T0, T0 + timedelta(hours=1), T0 + timedelta(hours=3), day2, day2 + timedelta(hours=2))
    lat = np.array([38.71, NAN, 52.52, NAN, 52.52])
    lon = np.array([-9.14, NAN, 13.40, NAN, 13.40])
    # WHEN split
    starts = event_starts(times, lat, lon, EventRules())
    # THEN the flight splits at the first Berlin photo, and the next day is compared with nothing of the day before
    assert starts.tolist() == [0, 2, 3]


def test_no_photos_make_no_events() -> None:
    assert event_starts(np.empty(0), np.empty(0), np.empty(0), EventRules()).tolist() == []


def test_names_say_the_dates_and_the_place() -> None:
    # GIVEN events of one day, of days in one month, across months and across years
    # THEN they are named as a person writes them
    assert event_name(datetime(2024, 5, 3, 10), datetime(2024, 5, 3, 18), None) == "3 May 2024"
    assert event_name(datetime(2023, 8, 12, 9), datetime(2023, 8, 14, 20), "Lisbon") == "12-14 Aug 2023, Lisbon"
    assert date_range(datetime(2023, 7, 30), datetime(2023, 8, 2)) == "30 Jul - 2 Aug 2023"
    assert date_range(datetime(2023, 12, 30), datetime(2024, 1, 2)) == "30 Dec 2023 - 2 Jan 2024"


def test_the_place_is_the_city_of_most_photos_else_the_region_else_the_country() -> None:
    lisbon, sintra = ("Lisbon", "Lisbon", "Portugal"), ("Sintra", "Lisbon", "Portugal")
    porto, madrid = ("Porto", "Porto", "Portugal"), ("Madrid", "Madrid", "Spain")
    # GIVEN photos mostly in Lisbon (some without a place)
    assert event_place([lisbon, lisbon, sintra, (None, None, None)]) == "Lisbon"
    # a day driving around the Lisbon region
    assert event_place([lisbon, sintra, ("Cascais", "Lisbon", "Portugal")]) == "Lisbon"
    assert event_place([sintra, ("Cascais", "Lisbon", "Portugal"), porto]) == "Lisbon"
    # a trip across the country and one over a border
    assert event_place([lisbon, porto, ("Faro", "Faro", "Portugal"), madrid]) == "Portugal"
    # no places at all
    assert event_place([(None, None, None)]) is None


def test_the_cover_is_the_middle_photo_piccl_does_not_advise_deleting() -> None:
    # GIVEN five photos in time order, the first two and the last flagged (blurry, dark, a lesser burst shot)
    assert cover_index(np.array([True, True, False, False, True])) == 3
    # AND when all are flagged, the middle one
    assert cover_index(np.array([True, True, True])) == 1
