//! Every expected instant below was worked out by hand from the zone's
//! offset (Seoul +09:00 all year; New York -05:00, or -04:00 between
//! 2026-03-08 02:00 and 2026-11-01 02:00 local), never by the code under test.

use chrono::{DateTime, Utc};
use herald::when::*;

/// A Thursday: 21:40 in Seoul, 07:40 in New York, 12:40 UTC.
const NOW: &str = "2026-12-03T12:40:00Z";

const SEOUL: Tz = Tz::Asia__Seoul;
const NEW_YORK: Tz = Tz::America__New_York;
const UTC: Tz = Tz::UTC;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a valid RFC 3339 test timestamp")
        .with_timezone(&Utc)
}

/// Each `(input, expected instant)` pair, read relative to `now` in `zone`.
fn expect(zone: Tz, now: &str, cases: &[(&str, &str)]) {
    for (input, want) in cases {
        assert_eq!(
            parse(input, utc(now), zone),
            Ok(utc(want)),
            "input {input:?} in {zone} at {now}"
        );
    }
}

fn refuse(zone: Tz, now: &str, cases: &[(&str, WhenError)]) {
    for (input, want) in cases {
        assert_eq!(
            parse(input, utc(now), zone),
            Err(want.clone()),
            "input {input:?} in {zone} at {now}"
        );
    }
}

fn unreadable(input: &str) -> WhenError {
    WhenError::Unreadable(input.trim().to_string())
}

// --- spans from now -------------------------------------------------------

#[test]
fn english_spans() {
    for zone in [SEOUL, UTC, NEW_YORK] {
        expect(
            zone,
            NOW,
            &[
                ("in 2h", "2026-12-03T14:40:00Z"),
                ("in 2 hours", "2026-12-03T14:40:00Z"),
                ("in 90 minutes", "2026-12-03T14:10:00Z"),
                ("in 90 min", "2026-12-03T14:10:00Z"),
                ("in 1h30m", "2026-12-03T14:10:00Z"),
                ("in 1 hour 30 minutes", "2026-12-03T14:10:00Z"),
                ("in 1 hour and 30 minutes", "2026-12-03T14:10:00Z"),
                ("in 3 days", "2026-12-06T12:40:00Z"),
                ("in 2 weeks", "2026-12-17T12:40:00Z"),
                ("in 45s", "2026-12-03T12:40:45Z"),
                ("in an hour", "2026-12-03T13:40:00Z"),
                ("2 hours later", "2026-12-03T14:40:00Z"),
            ],
        );
    }
}

#[test]
fn bare_english_spans() {
    expect(
        UTC,
        NOW,
        &[
            ("2h", "2026-12-03T14:40:00Z"),
            ("30m", "2026-12-03T13:10:00Z"),
            ("1d", "2026-12-04T12:40:00Z"),
        ],
    );
}

#[test]
fn spans_tolerate_case_and_spaces() {
    expect(
        SEOUL,
        NOW,
        &[
            ("  IN   2   HOURS ", "2026-12-03T14:40:00Z"),
            ("In 1H30M", "2026-12-03T14:10:00Z"),
        ],
    );
}

#[test]
fn korean_spans() {
    expect(
        SEOUL,
        NOW,
        &[
            ("2시간 후", "2026-12-03T14:40:00Z"),
            ("2시간 뒤", "2026-12-03T14:40:00Z"),
            ("30분 후", "2026-12-03T13:10:00Z"),
            ("1시간 30분 후", "2026-12-03T14:10:00Z"),
            ("3일 후", "2026-12-06T12:40:00Z"),
            ("2주 후", "2026-12-17T12:40:00Z"),
            ("45초 후", "2026-12-03T12:40:45Z"),
            // Korean is often typed without spaces.
            ("2시간후", "2026-12-03T14:40:00Z"),
            ("1시간30분후", "2026-12-03T14:10:00Z"),
        ],
    );
}

#[test]
fn korean_units_need_a_marker() {
    refuse(
        SEOUL,
        NOW,
        &[
            ("30분", unreadable("30분")),
            ("in 2시간", unreadable("in 2시간")),
        ],
    );
}

#[test]
fn days_keep_the_wall_clock_across_dst_but_hours_do_not() {
    // Saturday 09:00 EST; DST starts the next night.
    expect(
        NEW_YORK,
        "2026-03-07T14:00:00Z",
        &[
            ("in 1 day", "2026-03-08T13:00:00Z"),  // 09:00 EDT
            ("in 1 week", "2026-03-14T13:00:00Z"), // 09:00 EDT
            ("in 24h", "2026-03-08T14:00:00Z"),    // 10:00 EDT
        ],
    );
}

#[test]
fn a_day_span_landing_in_a_gap_moves_to_the_end_of_it() {
    // Saturday 02:30 EST; on Sunday 02:30 does not exist, 03:00 EDT is next.
    expect(
        NEW_YORK,
        "2026-03-07T07:30:00Z",
        &[("in 1d", "2026-03-08T07:00:00Z")],
    );
}

#[test]
fn span_limits() {
    expect(UTC, NOW, &[("in 366 days", "2027-12-04T12:40:00Z")]);
    expect(UTC, NOW, &[("in 8784 hours", "2027-12-04T12:40:00Z")]);
    refuse(
        UTC,
        NOW,
        &[
            ("in 367 days", WhenError::TooFar),
            ("in 53 weeks", WhenError::TooFar),
            ("in 8785 hours", WhenError::TooFar),
            ("in 99999999999999999999999 days", WhenError::TooFar),
            ("in 99999999999999999999999 s", WhenError::TooFar),
            ("in 0 minutes", WhenError::Past),
        ],
    );
}

// --- day and time, Seoul ----------------------------------------------------

#[test]
fn tomorrow_and_today_in_seoul() {
    expect(
        SEOUL,
        NOW,
        &[
            ("tomorrow 9:00", "2026-12-04T00:00:00Z"),
            ("tomorrow 9am", "2026-12-04T00:00:00Z"),
            ("TOMORROW   9 AM", "2026-12-04T00:00:00Z"),
            ("tomorrow 9 a.m.", "2026-12-04T00:00:00Z"),
            ("tomorrow at 9:30 pm", "2026-12-04T12:30:00Z"),
            ("9:30pm tomorrow", "2026-12-04T12:30:00Z"),
            ("tomorrow at 9", "2026-12-04T00:00:00Z"),
            ("tomorrow", "2026-12-04T00:00:00Z"),
            ("tmr 10:15", "2026-12-04T01:15:00Z"),
            ("today 23:00", "2026-12-03T14:00:00Z"),
            ("tonight 11pm", "2026-12-03T14:00:00Z"),
            ("tonight 11", "2026-12-03T14:00:00Z"),
            ("tonight at 10", "2026-12-03T13:00:00Z"),
        ],
    );
    refuse(
        SEOUL,
        NOW,
        &[
            ("today 18:00", WhenError::Past),
            ("tonight", WhenError::Past), // 20:00, already gone at 21:40
            ("today", unreadable("today")),
            // Noon by the clock, midnight by intent: neither is guessed.
            ("tonight 12", unreadable("tonight 12")),
        ],
    );
}

#[test]
fn bare_times_take_the_next_such_wall_clock() {
    expect(
        SEOUL,
        NOW,
        &[
            ("9:00", "2026-12-04T00:00:00Z"),  // 09:00 has passed today
            ("21:30", "2026-12-04T12:30:00Z"), // 21:30 has passed by ten minutes
            ("22:00", "2026-12-03T13:00:00Z"), // still ahead today
            ("9pm", "2026-12-04T12:00:00Z"),
            ("11pm", "2026-12-03T14:00:00Z"),
            ("at 23", "2026-12-03T14:00:00Z"),
            ("12am", "2026-12-03T15:00:00Z"), // midnight
            ("12pm", "2026-12-04T03:00:00Z"), // noon
            ("noon", "2026-12-04T03:00:00Z"),
            ("0:30", "2026-12-03T15:30:00Z"),
        ],
    );
}

#[test]
fn weekdays_in_seoul() {
    expect(
        SEOUL,
        NOW,
        &[
            ("monday 9:00", "2026-12-07T00:00:00Z"),
            ("next friday 17:00", "2026-12-04T08:00:00Z"),
            ("fri 5pm", "2026-12-04T08:00:00Z"),
            ("9am friday", "2026-12-04T00:00:00Z"),
            ("on sunday at 10am", "2026-12-06T01:00:00Z"),
            ("this saturday", "2026-12-05T00:00:00Z"),
            // Today is Thursday: today counts while the time is still ahead...
            ("thursday 23:00", "2026-12-03T14:00:00Z"),
            // ...else a week later, and "next" never means today.
            ("thursday 9:00", "2026-12-10T00:00:00Z"),
            ("thu", "2026-12-10T00:00:00Z"),
            ("next thursday 23:00", "2026-12-10T14:00:00Z"),
            // "next week" is the Monday-to-Sunday week after this one.
            ("next week friday 17:00", "2026-12-11T08:00:00Z"),
        ],
    );
}

#[test]
fn dates_in_seoul() {
    expect(
        SEOUL,
        NOW,
        &[
            ("2026-12-10 10:00", "2026-12-10T01:00:00Z"),
            ("2026-12-10T10:00", "2026-12-10T01:00:00Z"),
            ("2026/12/10 10:00", "2026-12-10T01:00:00Z"),
            ("2026-12-10", "2026-12-10T00:00:00Z"),
            ("10:00 2026-12-10", "2026-12-10T01:00:00Z"),
            // Year-less dates roll over to next year once passed.
            ("12-01 10:00", "2027-12-01T01:00:00Z"),
            ("12/01 10:00", "2027-12-01T01:00:00Z"),
            ("12-25 10:00", "2026-12-25T01:00:00Z"),
            ("12/25", "2026-12-25T00:00:00Z"),
            // Exactly 366 days ahead is still allowed.
            ("2027-12-04 21:40", "2027-12-04T12:40:00Z"),
        ],
    );
    refuse(
        SEOUL,
        NOW,
        &[
            ("2026-12-01 10:00", WhenError::Past),
            ("2026-12-01", WhenError::Past),
            ("2027-12-04 21:41", WhenError::TooFar),
            ("2028-01-01", WhenError::TooFar),
            ("2026-02-30", unreadable("2026-02-30")),
            ("02-30", unreadable("02-30")),
            ("02-29 10:00", unreadable("02-29 10:00")), // neither 2026 nor 2027 has it
            ("13-01", unreadable("13-01")),
        ],
    );
}

#[test]
fn korean_days_and_times() {
    expect(
        SEOUL,
        NOW,
        &[
            ("내일 9시", "2026-12-04T00:00:00Z"),
            ("내일 오전 9시", "2026-12-04T00:00:00Z"),
            ("내일오전9시", "2026-12-04T00:00:00Z"),
            ("내일 9시에", "2026-12-04T00:00:00Z"),
            ("내일 오후 3시 30분", "2026-12-04T06:30:00Z"),
            ("내일 오후 3시 반", "2026-12-04T06:30:00Z"),
            ("오늘 23:00", "2026-12-03T14:00:00Z"),
            ("모레 10시", "2026-12-05T01:00:00Z"),
            ("오후 3시", "2026-12-04T06:00:00Z"), // passed today
            ("오후 11시", "2026-12-03T14:00:00Z"), // still ahead today
            ("9시 30분", "2026-12-04T00:30:00Z"),
            ("오전 12시", "2026-12-03T15:00:00Z"), // midnight
            ("정오", "2026-12-04T03:00:00Z"),
            ("내일", "2026-12-04T00:00:00Z"),
        ],
    );
    refuse(SEOUL, NOW, &[("오늘 18:00", WhenError::Past)]);
}

#[test]
fn korean_dates_and_weekdays() {
    expect(
        SEOUL,
        NOW,
        &[
            ("2026-12-10 10:00", "2026-12-10T01:00:00Z"),
            ("12월 1일 10시", "2027-12-01T01:00:00Z"),
            ("12월 25일 10시", "2026-12-25T01:00:00Z"),
            ("12월 25일", "2026-12-25T00:00:00Z"),
            ("2026년 12월 25일 오전 10시", "2026-12-25T01:00:00Z"),
            ("월요일 9시", "2026-12-07T00:00:00Z"),
            ("금요일 오후 5시", "2026-12-04T08:00:00Z"),
            ("다음 금요일 17:00", "2026-12-04T08:00:00Z"),
            ("다음주 금요일 17:00", "2026-12-11T08:00:00Z"),
            ("다음 주 금요일 17:00", "2026-12-11T08:00:00Z"),
            ("다음주금요일 17:00", "2026-12-11T08:00:00Z"),
            ("다음주 월요일", "2026-12-07T00:00:00Z"),
            ("다음주 목요일", "2026-12-10T00:00:00Z"),
        ],
    );
}

#[test]
fn korean_absolute_date_in_the_past() {
    // Needs a "now" before it to be accepted; here it is after.
    refuse(
        SEOUL,
        "2026-12-03T12:40:00Z",
        &[("2026-12-01 10:00", WhenError::Past)],
    );
    expect(
        SEOUL,
        "2026-11-20T00:00:00Z",
        &[("2026-12-01 10:00", "2026-12-01T01:00:00Z")],
    );
}

// --- day and time, UTC and New York ---------------------------------------------

#[test]
fn forms_in_utc() {
    expect(
        UTC,
        NOW,
        &[
            ("tomorrow 9:00", "2026-12-04T09:00:00Z"),
            ("13:00", "2026-12-03T13:00:00Z"),
            ("12:00", "2026-12-04T12:00:00Z"),
            ("12:40", "2026-12-04T12:40:00Z"), // exactly now is not ahead
            ("fri 5pm", "2026-12-04T17:00:00Z"),
            ("sunday", "2026-12-06T09:00:00Z"),
            ("tonight", "2026-12-03T20:00:00Z"),
            ("2026-12-10 10:00", "2026-12-10T10:00:00Z"),
            ("12/25 10:00", "2026-12-25T10:00:00Z"),
            ("내일 오후 3시", "2026-12-04T15:00:00Z"),
            ("2시간 후", "2026-12-03T14:40:00Z"),
        ],
    );
    refuse(UTC, NOW, &[("today 12:40", WhenError::Past)]);
}

#[test]
fn forms_in_new_york() {
    expect(
        NEW_YORK,
        NOW,
        &[
            ("tomorrow 9am", "2026-12-04T14:00:00Z"),
            ("9:00", "2026-12-03T14:00:00Z"), // 07:40 now, so still today
            ("7:00", "2026-12-04T12:00:00Z"),
            ("11pm", "2026-12-04T04:00:00Z"),
            ("today 18:00", "2026-12-03T23:00:00Z"),
            ("tonight 8", "2026-12-04T01:00:00Z"),
            ("thursday 8am", "2026-12-03T13:00:00Z"),
            ("fri 5pm", "2026-12-04T22:00:00Z"),
            ("next friday 17:00", "2026-12-04T22:00:00Z"),
            ("2026-12-10", "2026-12-10T14:00:00Z"),
            ("12/25 10:00", "2026-12-25T15:00:00Z"),
            ("12월 25일 10시", "2026-12-25T15:00:00Z"),
        ],
    );
}

// --- DST ----------------------------------------------------------------

#[test]
fn a_wall_time_in_the_spring_gap_is_skipped() {
    let before = "2026-03-01T12:00:00Z";
    refuse(
        NEW_YORK,
        before,
        &[
            ("2026-03-08 02:30", WhenError::Skipped),
            ("2026-03-08 02:00", WhenError::Skipped),
            ("03-08 02:30", WhenError::Skipped),
        ],
    );
    expect(
        NEW_YORK,
        before,
        &[
            ("2026-03-08 01:30", "2026-03-08T06:30:00Z"), // EST
            ("2026-03-08 03:00", "2026-03-08T07:00:00Z"), // EDT
            ("2026-03-08 03:30", "2026-03-08T07:30:00Z"),
        ],
    );
    // Seoul has no DST, so the same wall time is fine there.
    expect(
        SEOUL,
        before,
        &[("2026-03-08 02:30", "2026-03-07T17:30:00Z")],
    );
    // The next year's gap (2027-03-14) from the December "now".
    refuse(NEW_YORK, NOW, &[("2027-03-14 02:30", WhenError::Skipped)]);
    // A gap already behind us is simply past.
    refuse(NEW_YORK, NOW, &[("2026-03-08 02:30", WhenError::Past)]);
}

#[test]
fn a_bare_time_in_todays_gap() {
    // 01:00 EST on the day of the change: today's 02:30 is ahead and missing.
    refuse(
        NEW_YORK,
        "2026-03-08T06:00:00Z",
        &[("2:30", WhenError::Skipped)],
    );
    // 04:00 EDT: the gap is behind us, so tomorrow's 02:30 (EDT) is meant.
    expect(
        NEW_YORK,
        "2026-03-08T08:00:00Z",
        &[("2:30", "2026-03-09T06:30:00Z")],
    );
}

#[test]
fn an_ambiguous_wall_time_takes_the_earlier_instant() {
    // 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST).
    expect(
        NEW_YORK,
        "2026-10-25T12:00:00Z",
        &[
            ("2026-11-01 01:30", "2026-11-01T05:30:00Z"),
            ("11-01 1:30", "2026-11-01T05:30:00Z"),
        ],
    );
    expect(
        NEW_YORK,
        "2026-11-01T05:00:00Z", // 01:00 EDT
        &[("1:30", "2026-11-01T05:30:00Z")],
    );
    // 01:45 EDT: the earlier 01:30 has passed, so tomorrow's 01:30 EST.
    expect(
        NEW_YORK,
        "2026-11-01T05:45:00Z",
        &[("1:30", "2026-11-02T06:30:00Z")],
    );
}

// --- refusals -------------------------------------------------------------

#[test]
fn unreadable_inputs() {
    let inputs = [
        "",
        "   ",
        "hello",
        "soon",
        "9",
        "in",
        "in 2",
        "in 2 parsecs",
        "25:00",
        "24:00",
        "9:60",
        "9:5",
        "13pm",
        "0am",
        "오후 13시",
        "오후 3pm",
        "tomorrow tomorrow",
        "tomorrow 9:00 10:00",
        "next week",
        "9시 30분 후",
        "tomorrow @ 9",
        "2026-13-01",
    ];
    for input in inputs {
        assert_eq!(
            parse(input, utc(NOW), SEOUL),
            Err(unreadable(input)),
            "input {input:?}"
        );
    }
}

#[test]
fn unreadable_names_the_trimmed_input() {
    assert_eq!(
        parse("  Whenever  ", utc(NOW), UTC),
        Err(WhenError::Unreadable("Whenever".to_string()))
    );
    assert_eq!(
        WhenError::Unreadable("soon".to_string()).to_string(),
        "could not read a time in \"soon\""
    );
}

#[test]
fn error_messages() {
    assert_eq!(WhenError::Past.to_string(), "that time has passed");
    assert_eq!(
        WhenError::TooFar.to_string(),
        "that is more than a year ahead"
    );
    assert_eq!(
        WhenError::Skipped.to_string(),
        "that time does not exist on that day in this time zone"
    );
}

#[test]
fn very_long_input_is_refused() {
    let input = "in 2h ".repeat(100);
    assert!(matches!(
        parse(&input, utc(NOW), UTC),
        Err(WhenError::Unreadable(_))
    ));
}

// --- repeats --------------------------------------------------------------

#[test]
fn repeat_names() {
    let cases = [
        ("daily", Repeat::Daily),
        ("day", Repeat::Daily),
        ("매일", Repeat::Daily),
        (" DAILY ", Repeat::Daily),
        ("weekdays", Repeat::Weekdays),
        ("평일", Repeat::Weekdays),
        ("weekly", Repeat::Weekly),
        ("week", Repeat::Weekly),
        ("매주", Repeat::Weekly),
        ("monthly", Repeat::Monthly),
        ("month", Repeat::Monthly),
        ("매월", Repeat::Monthly),
        ("매달", Repeat::Monthly),
    ];
    for (raw, want) in cases {
        assert_eq!(Repeat::parse(raw), Some(want), "{raw:?}");
    }
    assert_eq!(Repeat::parse("yearly"), None);
    assert_eq!(Repeat::parse(""), None);
}

#[test]
fn repeat_as_str_reads_back() {
    let all = [
        (Repeat::Daily, "daily"),
        (Repeat::Weekdays, "weekdays"),
        (Repeat::Weekly, "weekly"),
        (Repeat::Monthly, "monthly"),
    ];
    for (repeat, name) in all {
        assert_eq!(repeat.as_str(), name);
        assert_eq!(Repeat::parse(name), Some(repeat));
    }
}

#[test]
fn daily_keeps_nine_local_across_spring_forward() {
    let first = utc("2026-03-07T14:00:00Z"); // Sat 09:00 EST
    let second = Repeat::Daily.next(first, NEW_YORK, 7);
    assert_eq!(second, utc("2026-03-08T13:00:00Z")); // Sun 09:00 EDT
    let third = Repeat::Daily.next(second, NEW_YORK, 7);
    assert_eq!(third, utc("2026-03-09T13:00:00Z"));
}

#[test]
fn daily_keeps_nine_local_across_fall_back() {
    let at = utc("2026-10-31T13:00:00Z"); // Sat 09:00 EDT
    assert_eq!(
        Repeat::Daily.next(at, NEW_YORK, 31),
        utc("2026-11-01T14:00:00Z") // Sun 09:00 EST
    );
}

#[test]
fn weekly_and_monthly_keep_nine_local_across_dst() {
    let monday = utc("2026-03-02T14:00:00Z"); // Mon 09:00 EST
    assert_eq!(
        Repeat::Weekly.next(monday, NEW_YORK, 2),
        utc("2026-03-09T13:00:00Z") // Mon 09:00 EDT
    );
    let ninth = utc("2026-02-09T14:00:00Z"); // 09:00 EST
    assert_eq!(
        Repeat::Monthly.next(ninth, NEW_YORK, 9),
        utc("2026-03-09T13:00:00Z") // 09:00 EDT
    );
}

#[test]
fn repeat_into_a_gap_moves_to_its_end() {
    let at = utc("2026-03-07T07:30:00Z"); // Sat 02:30 EST
    assert_eq!(
        Repeat::Daily.next(at, NEW_YORK, 7),
        utc("2026-03-08T07:00:00Z") // 03:00 EDT, the first instant after the gap
    );
}

#[test]
fn repeat_into_a_fold_takes_the_earlier() {
    let at = utc("2026-10-31T05:30:00Z"); // Sat 01:30 EDT
    let into_fold = Repeat::Daily.next(at, NEW_YORK, 31);
    assert_eq!(into_fold, utc("2026-11-01T05:30:00Z")); // 01:30 EDT, not EST
    assert_eq!(
        Repeat::Daily.next(into_fold, NEW_YORK, 31),
        utc("2026-11-02T06:30:00Z") // 01:30 EST
    );
}

#[test]
fn weekdays_skip_the_weekend() {
    let cases = [
        ("2026-12-03T00:00:00Z", "2026-12-04T00:00:00Z"), // Thu -> Fri
        ("2026-12-04T00:00:00Z", "2026-12-07T00:00:00Z"), // Fri -> Mon
        ("2026-12-05T00:00:00Z", "2026-12-07T00:00:00Z"), // Sat -> Mon
        ("2026-12-06T00:00:00Z", "2026-12-07T00:00:00Z"), // Sun -> Mon
    ];
    for (at, want) in cases {
        assert_eq!(
            Repeat::Weekdays.next(utc(at), SEOUL, 1),
            utc(want),
            "from {at}"
        );
    }
}

#[test]
fn weekdays_count_days_in_the_users_zone() {
    // Friday 20:00 UTC is already Saturday 05:00 in Seoul.
    let at = utc("2026-12-04T20:00:00Z");
    assert_eq!(
        Repeat::Weekdays.next(at, SEOUL, 1),
        utc("2026-12-06T20:00:00Z") // Mon 05:00 KST
    );
    assert_eq!(
        Repeat::Weekdays.next(at, UTC, 1),
        utc("2026-12-07T20:00:00Z") // Mon 20:00 UTC
    );
}

#[test]
fn monthly_on_the_31st_clamps_then_returns() {
    let jan = utc("2026-01-31T00:00:00Z"); // 09:00 KST
    let feb = Repeat::Monthly.next(jan, SEOUL, 31);
    assert_eq!(feb, utc("2026-02-28T00:00:00Z"));
    let mar = Repeat::Monthly.next(feb, SEOUL, 31);
    assert_eq!(mar, utc("2026-03-31T00:00:00Z"));
    let apr = Repeat::Monthly.next(mar, SEOUL, 31);
    assert_eq!(apr, utc("2026-04-30T00:00:00Z"));
}

#[test]
fn monthly_over_year_end_and_leap_february() {
    assert_eq!(
        Repeat::Monthly.next(utc("2026-12-31T00:00:00Z"), SEOUL, 31),
        utc("2027-01-31T00:00:00Z")
    );
    assert_eq!(
        Repeat::Monthly.next(utc("2028-01-31T00:00:00Z"), SEOUL, 31),
        utc("2028-02-29T00:00:00Z")
    );
}

#[test]
fn monthly_uses_the_local_date() {
    // 2026-02-01 02:00 UTC is Jan 31 21:00 in New York.
    assert_eq!(
        Repeat::Monthly.next(utc("2026-02-01T02:00:00Z"), NEW_YORK, 31),
        utc("2026-03-01T02:00:00Z") // Feb 28 21:00 EST
    );
}

#[test]
fn monthly_without_an_anchor_uses_the_day_of_at() {
    assert_eq!(
        Repeat::Monthly.next(utc("2026-01-15T00:00:00Z"), SEOUL, 0),
        utc("2026-02-15T00:00:00Z")
    );
}

// --- zones ----------------------------------------------------------------

#[test]
fn zone_by_name() {
    assert_eq!(zone("asia/seoul"), Some(SEOUL));
    assert_eq!(zone("Asia/Seoul"), Some(SEOUL));
    assert_eq!(zone("ASIA/SEOUL"), Some(SEOUL));
    assert_eq!(zone("KST"), Some(SEOUL));
    assert_eq!(zone("kst"), Some(SEOUL));
    assert_eq!(zone("UTC"), Some(UTC));
    assert_eq!(zone("utc"), Some(UTC));
    assert_eq!(zone("america/new_york"), Some(NEW_YORK));
    assert_eq!(zone("  America/New York "), Some(NEW_YORK));
    assert_eq!(zone("Mars/Olympus_Mons"), None);
    assert_eq!(zone("seoul"), None);
    assert_eq!(zone(""), None);
}

#[test]
fn zones_like_finds_and_ranks() {
    assert_eq!(zones_like("seoul", 5), vec!["Asia/Seoul"]);
    assert_eq!(zones_like("utc", 3).first(), Some(&"UTC"));
    assert_eq!(zones_like("Asia/Seoul", 10).first(), Some(&"Asia/Seoul"));
    assert_eq!(zones_like("new york", 3).first(), Some(&"America/New_York"));
    assert_eq!(zones_like("lond", 3).first(), Some(&"Europe/London"));
    assert!(zones_like("zzzz", 5).is_empty());
}

#[test]
fn zones_like_respects_the_limit_and_matches_case_insensitively() {
    assert_eq!(zones_like("america", 5).len(), 5);
    assert_eq!(zones_like("", 3).len(), 3);
    assert!(zones_like("seoul", 0).is_empty());
    let hits = zones_like("NEW", 100);
    assert!(hits.contains(&"America/New_York"));
    assert!(hits.iter().all(|name| name.to_lowercase().contains("new")));
}

// --- preview --------------------------------------------------------------

#[test]
fn preview_matches_the_documented_examples() {
    let now = utc("2026-12-03T09:55:00Z");
    let at = utc("2026-12-03T12:00:00Z"); // 21:00 KST
    assert_eq!(
        preview(at, now, SEOUL, false),
        "Thu 2026-12-03 21:00 (Asia/Seoul), in 2 h 5 min"
    );
    assert_eq!(
        preview(at, now, SEOUL, true),
        "2026-12-03 (목) 21:00 (Asia/Seoul), 2시간 5분 후"
    );
}

#[test]
fn preview_over_a_day_in_new_york() {
    let at = utc("2026-12-04T14:00:00Z"); // Fri 09:00 EST, 25 h 20 min away
    assert_eq!(
        preview(at, utc(NOW), NEW_YORK, false),
        "Fri 2026-12-04 09:00 (America/New_York), in 1 d 1 h"
    );
    assert_eq!(
        preview(at, utc(NOW), NEW_YORK, true),
        "2026-12-04 (금) 09:00 (America/New_York), 1일 1시간 후"
    );
}

#[test]
fn preview_distances() {
    let now = utc(NOW);
    let cases = [
        ("2026-12-03T13:10:00Z", "in 30 min", "30분 후"),
        ("2026-12-03T14:40:00Z", "in 2 h", "2시간 후"),
        ("2026-12-03T12:40:45Z", "in 45 s", "45초 후"),
        ("2026-12-03T14:44:30Z", "in 2 h 5 min", "2시간 5분 후"), // rounds up
        ("2026-12-03T14:44:29Z", "in 2 h 4 min", "2시간 4분 후"),
        ("2026-12-06T12:40:00Z", "in 3 d", "3일 후"),
        ("2026-12-03T12:35:00Z", "5 min ago", "5분 전"),
        ("2026-12-03T12:40:00Z", "now", "지금"),
    ];
    for (at, english, korean) in cases {
        let english_line = preview(utc(at), now, UTC, false);
        let korean_line = preview(utc(at), now, UTC, true);
        assert!(
            english_line.ends_with(&format!("(UTC), {english}")),
            "{english_line}"
        );
        assert!(
            korean_line.ends_with(&format!("(UTC), {korean}")),
            "{korean_line}"
        );
    }
    assert_eq!(
        preview(utc("2026-12-03T13:10:00Z"), now, UTC, false),
        "Thu 2026-12-03 13:10 (UTC), in 30 min"
    );
}

#[test]
fn parse_then_preview() {
    let now = utc(NOW);
    let at = parse("내일 오후 3시 30분", now, SEOUL).expect("readable");
    assert_eq!(
        preview(at, now, SEOUL, true),
        "2026-12-04 (금) 15:30 (Asia/Seoul), 17시간 50분 후"
    );
}
