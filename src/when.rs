//! Reads the times people type for reminders — "in 2h", "tomorrow 9am",
//! "next friday 17:00", "내일 오후 3시 30분", "2026-12-01 10:00" — and answers
//! the UTC instant they mean, relative to a given `now` in the user's zone.
//! It also finds zones by name, steps repeating reminders and writes the
//! preview line shown before a reminder is saved.
//!
//! # Grammar
//!
//! Input is lower-cased and split by a hand-written tokenizer into numbers,
//! words and the symbols `: - / . ,`; spacing does not matter, and Korean
//! written without spaces ("2시간후", "내일오전") is split against a small
//! vocabulary. Two shapes are read.
//!
//! **A span from now**: `[in] N unit [[and|,] N unit]... [later|후|뒤]`, with
//! units `s sec second(s) 초`, `m min minute(s) 분`, `h hr hour(s) 시간`,
//! `d day(s) 일`, `w wk week(s) 주`; `a`/`an` count as one ("in an hour").
//! Korean units need `후`/`뒤`, because "30분" alone would otherwise be
//! confused with a minute of the clock. Hours, minutes and seconds are
//! elapsed time; days and weeks are calendar days that keep the wall clock,
//! so "in 1 day" across a DST change is still the same local time.
//!
//! **A day part and/or a time part**, in either order, with the fillers
//! `on`, `this`, `,` and `에`:
//! * day: `today`/`오늘`, `tonight`, `tomorrow`/`tmr`/`tmrw`/`내일`, `모레`;
//!   a weekday (`fri`, `friday`, `금요일`), optionally after `next`/`다음`
//!   or `다음주`/`다음 주`/`next week`; `YYYY-MM-DD` (also with `/` or `.`,
//!   and a `T` before the time); `MM-DD` or `MM/DD` (month first);
//!   `[YYYY년] M월 D일`.
//! * time: `H:MM [am|pm]`, `H am|pm`, `[오전|오후] H시 [M분|반]`,
//!   `[오전|오후] H:MM`, `오전|오후 H`, `at H`, `noon`/`정오`, and a lone `H`
//!   right after `tonight`.
//!
//! # Which day and hour
//!
//! * Only a time: the next time that wall clock comes (today if still ahead,
//!   else tomorrow).
//! * `today`, `tonight`, `tomorrow`, `모레` or a dated day: that day; if it has
//!   passed, [`WhenError::Past`].
//! * A weekday: the next such day, and today counts while the time is still
//!   ahead. `next friday`/`다음 금요일` never means today (1 to 7 days ahead);
//!   `다음주 금요일`/`next week friday` is the Friday of the next Monday-to-
//!   Sunday week.
//! * `MM-DD`, `M월 D일`: this year, or next year if that has passed.
//! * A day without a time is at 09:00 (`tonight` alone: 20:00); `today`
//!   alone is unreadable.
//! * The clock is 24-hour (0..=23; "3시" is 03:00, nothing is guessed) unless
//!   `am`/`pm`/`오전`/`오후` is given, then 1..=12. After `tonight`, hours
//!   1..=11 without a marker are evening hours.
//!
//! The answer is strictly after `now` and at most 366 days ahead. A wall time
//! that DST skips is [`WhenError::Skipped`] while it is still ahead (one in the
//! past is just `Past`); a wall time that happens twice takes the earlier
//! instant, and when that one has already passed an open-ended form ("9:00",
//! "friday") moves on to the next day rather than take the later one.

use chrono::{
    DateTime, Datelike, Days, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta,
    TimeZone, Timelike, Utc, Weekday,
};
pub use chrono_tz::Tz;

/// Why `parse` refused an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error("could not read a time in {0:?}")]
    Unreadable(String),
    #[error("that time has passed")]
    Past,
    #[error("that is more than a year ahead")]
    TooFar,
    #[error("that time does not exist on that day in this time zone")]
    Skipped, // DST gap
}

/// How far ahead a reminder may be set.
const MAX_AHEAD_DAYS: i64 = 366;
/// Nobody types a reminder time this long; refusing early bounds the work.
const MAX_INPUT_CHARS: usize = 200;
/// The hour a day without a time stands for ("tomorrow" = tomorrow 09:00).
const DEFAULT_HOUR: u32 = 9;
/// The hour "tonight" alone stands for.
const TONIGHT_HOUR: u32 = 20;
/// Longest DST gap to walk across: Samoa skipped a whole day in 2011.
const MAX_GAP_MINUTES: u32 = 2 * 24 * 60;

/// Parses what a user typed, relative to `now`, in the user's zone. Answers the instant (UTC).
pub fn parse(input: &str, now: DateTime<Utc>, zone: Tz) -> Result<DateTime<Utc>, WhenError> {
    let answer = match read(input) {
        Some(Request::After(span)) => after_span(span, now, zone),
        Some(Request::Wall { day, time }) => at_wall_time(day, time, now, zone),
        None => Err(unreadable()),
    };
    answer.map_err(|error| error.about(input))
}

impl WhenError {
    /// Inner steps raise `Unreadable` without the text; `parse` names the input once, here.
    fn about(self, input: &str) -> Self {
        match self {
            Self::Unreadable(_) => Self::Unreadable(input.trim().to_string()),
            other => other,
        }
    }
}

fn unreadable() -> WhenError {
    WhenError::Unreadable(String::new())
}

/// What the words asked for, before any calendar is consulted.
#[derive(Debug)]
enum Request {
    After(Span),
    Wall {
        day: Option<DayPart>,
        time: Option<NaiveTime>,
    },
}

/// `None` when the input fits neither shape of the grammar.
fn read(input: &str) -> Option<Request> {
    if input.chars().count() > MAX_INPUT_CHARS {
        return None;
    }
    let toks = tokenize(&normalize(input))?;
    if toks.is_empty() {
        return None;
    }
    match span(&toks) {
        Some(span) => Some(Request::After(span)),
        None => wall_request(&toks),
    }
}

/// Lower-case, and fold the dotted "a.m."/"p.m." so the tokenizer sees one word.
fn normalize(input: &str) -> String {
    input
        .to_lowercase()
        .replace("a.m.", "am")
        .replace("p.m.", "pm")
}

// ---------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Num {
    value: u64,
    /// Kept so "2026" (a year) can be told from "26", and "9:5" refused.
    digits: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Num(Num),
    Word(String),
    Sym(char),
}

const SYMBOLS: &str = ":-/.,";

/// Korean is often typed without spaces ("내일오전9시", "2시간후"), so a Hangul
/// run is cut into these words, longest first.
const KOREAN_WORDS: &[&str] = &[
    "시간",
    "분",
    "초",
    "일",
    "주",
    "후",
    "뒤",
    "에",
    "내일",
    "오늘",
    "모레",
    "오전",
    "오후",
    "시",
    "반",
    "월",
    "년",
    "다음주",
    "다음",
    "정오",
    "월요일",
    "화요일",
    "수요일",
    "목요일",
    "금요일",
    "토요일",
    "일요일",
];

/// `None` on a character no form uses (e.g. "@"), so the input is refused whole.
fn tokenize(text: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut rest: &[char] = &chars;
    while let Some(&c) = rest.first() {
        let len = if c.is_whitespace() {
            run_len(rest, char::is_whitespace)
        } else if c.is_ascii_digit() {
            let len = run_len(rest, |c| c.is_ascii_digit());
            toks.push(Tok::Num(number(&rest[..len])));
            len
        } else if c.is_ascii_alphabetic() {
            // Latin and Hangul runs are split apart so "9pm에" reads as 9, pm, 에.
            let len = run_len(rest, |c| c.is_ascii_alphabetic());
            toks.push(Tok::Word(rest[..len].iter().collect()));
            len
        } else if c.is_alphabetic() {
            let len = run_len(rest, |c| c.is_alphabetic() && !c.is_ascii());
            let run: String = rest[..len].iter().collect();
            toks.extend(split_korean(&run).into_iter().map(Tok::Word));
            len
        } else if SYMBOLS.contains(c) {
            toks.push(Tok::Sym(c));
            1
        } else {
            return None;
        };
        rest = &rest[len..];
    }
    Some(toks)
}

fn run_len(chars: &[char], belongs: impl Fn(char) -> bool) -> usize {
    chars.iter().take_while(|&&c| belongs(c)).count()
}

/// Saturates instead of overflowing: a huge number then fails a range check later.
fn number(digits: &[char]) -> Num {
    let value = digits
        .iter()
        .filter_map(|c| c.to_digit(10))
        .fold(0u64, |acc, d| {
            acc.saturating_mul(10).saturating_add(u64::from(d))
        });
    Num {
        value,
        digits: digits.len(),
    }
}

fn split_korean(run: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = run;
    while !rest.is_empty() {
        let longest = KOREAN_WORDS
            .iter()
            .filter(|word| rest.starts_with(*word))
            .max_by_key(|word| word.len());
        let Some(word) = longest else {
            // Not our vocabulary: keep the run whole so it is refused as one unknown word.
            return vec![run.to_string()];
        };
        words.push((*word).to_string());
        rest = &rest[word.len()..];
    }
    words
}

/// A read position in the tokens; `Copy`, so a rule can try ahead on a copy
/// and commit by writing it back only when the whole rule matched.
#[derive(Debug, Clone, Copy)]
struct Cursor<'a> {
    rest: &'a [Tok],
}

impl<'a> Cursor<'a> {
    fn new(toks: &'a [Tok]) -> Self {
        Self { rest: toks }
    }

    fn is_done(&self) -> bool {
        self.rest.is_empty()
    }

    fn advance(&mut self, count: usize) {
        self.rest = self.rest.get(count..).unwrap_or_default();
    }

    fn word(&self, ahead: usize) -> Option<&'a str> {
        match self.rest.get(ahead) {
            Some(Tok::Word(word)) => Some(word),
            _ => None,
        }
    }

    fn num(&self, ahead: usize) -> Option<Num> {
        match self.rest.get(ahead) {
            Some(Tok::Num(num)) => Some(*num),
            _ => None,
        }
    }

    fn sym(&self, ahead: usize) -> Option<char> {
        match self.rest.get(ahead) {
            Some(Tok::Sym(sym)) => Some(*sym),
            _ => None,
        }
    }

    fn eat_word(&mut self, options: &[&str]) -> Option<&'a str> {
        let word = self.word(0).filter(|word| options.contains(word))?;
        self.advance(1);
        Some(word)
    }

    fn eat_num(&mut self) -> Option<Num> {
        let num = self.num(0)?;
        self.advance(1);
        Some(num)
    }

    fn eat_sym(&mut self, options: &str) -> Option<char> {
        let sym = self.sym(0).filter(|sym| options.contains(*sym))?;
        self.advance(1);
        Some(sym)
    }
}

// ---------------------------------------------------------------------------
// A span from now: "in 1h30m", "2시간 후"

/// Calendar days keep the wall clock; seconds are elapsed time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Span {
    days: u64,
    seconds: u64,
}

#[derive(Debug, Clone, Copy)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
}

/// The unit a word names, and whether it is a Korean one.
fn unit(word: &str) -> Option<(Unit, bool)> {
    let found = match word {
        "s" | "sec" | "secs" | "second" | "seconds" => (Unit::Second, false),
        "m" | "min" | "mins" | "minute" | "minutes" => (Unit::Minute, false),
        "h" | "hr" | "hrs" | "hour" | "hours" => (Unit::Hour, false),
        "d" | "day" | "days" => (Unit::Day, false),
        "w" | "wk" | "wks" | "week" | "weeks" => (Unit::Week, false),
        "초" => (Unit::Second, true),
        "분" => (Unit::Minute, true),
        "시간" => (Unit::Hour, true),
        "일" => (Unit::Day, true),
        "주" => (Unit::Week, true),
        _ => return None,
    };
    Some(found)
}

impl Span {
    /// Saturating: an absurd amount must become `TooFar`, not wrap around.
    fn add(mut self, amount: u64, unit: Unit) -> Self {
        match unit {
            Unit::Second => self.seconds = self.seconds.saturating_add(amount),
            Unit::Minute => self.seconds = self.seconds.saturating_add(amount.saturating_mul(60)),
            Unit::Hour => self.seconds = self.seconds.saturating_add(amount.saturating_mul(3600)),
            Unit::Day => self.days = self.days.saturating_add(amount),
            Unit::Week => self.days = self.days.saturating_add(amount.saturating_mul(7)),
        }
        self
    }
}

/// `Some` only when the whole input is a span.
fn span(toks: &[Tok]) -> Option<Span> {
    let mut cur = Cursor::new(toks);
    cur.eat_word(&["in"]);
    let mut total = Span::default();
    let mut korean = false;
    let mut pairs = 0;
    while let Some((amount, (unit, is_korean))) = amount_and_unit(&mut cur) {
        total = total.add(amount, unit);
        korean |= is_korean;
        pairs += 1;
        cur.eat_word(&["and"]);
        cur.eat_sym(",");
    }
    let marked = cur.eat_word(&["later", "후", "뒤"]).is_some();
    let whole = cur.is_done() && pairs > 0;
    (whole && (marked || !korean)).then_some(total)
}

fn amount_and_unit(cur: &mut Cursor) -> Option<(u64, (Unit, bool))> {
    let amount = match (cur.num(0), cur.word(0)) {
        (Some(num), _) => num.value,
        (None, Some("a" | "an")) => 1,
        _ => return None,
    };
    let unit = cur.word(1).and_then(unit)?;
    cur.advance(2);
    Some((amount, unit))
}

fn after_span(span: Span, now: DateTime<Utc>, zone: Tz) -> Result<DateTime<Utc>, WhenError> {
    // Past the window anyway; stopping here keeps the arithmetic below in range.
    let limit_days = MAX_AHEAD_DAYS.unsigned_abs() + 1;
    if span.days > limit_days || span.seconds > limit_days * 86_400 {
        return Err(WhenError::TooFar);
    }
    // With no days, stay on `now` itself: re-reading its wall clock could
    // pick the other instant inside a repeated (fall-back) hour.
    let base = if span.days == 0 {
        now
    } else {
        let wall = now.with_timezone(&zone).naive_local();
        let moved = wall
            .checked_add_days(Days::new(span.days))
            .ok_or(WhenError::TooFar)?;
        resolve_forward(moved, zone)
    };
    let seconds = i64::try_from(span.seconds).map_err(|_| WhenError::TooFar)?;
    let delta = TimeDelta::try_seconds(seconds).ok_or(WhenError::TooFar)?;
    let at = base.checked_add_signed(delta).ok_or(WhenError::TooFar)?;
    within_window(at, now)
}

fn within_window(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, WhenError> {
    if at <= now {
        Err(WhenError::Past)
    } else if at - now > TimeDelta::days(MAX_AHEAD_DAYS) {
        Err(WhenError::TooFar)
    } else {
        Ok(at)
    }
}

// ---------------------------------------------------------------------------
// A day part and a time part: "tomorrow at 9:30 pm", "내일 오후 3시"

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayPart {
    Today,
    /// Today, with evening hours for 1..=11.
    Tonight,
    /// Days after today: tomorrow = 1, 모레 = 2.
    Ahead(u64),
    Weekday {
        day: Weekday,
        rule: WeekRule,
    },
    /// Raw numbers; checked against the calendar once the year is known.
    Date {
        year: Option<u64>,
        month: u64,
        day: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WeekRule {
    /// "friday": today too, while the time is still ahead.
    TodayIfAhead,
    /// "next friday": 1 to 7 days ahead, never today.
    AfterToday,
    /// "다음주 금요일": that day in the next Monday-to-Sunday week.
    NextWeek,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meridiem {
    Am,
    Pm,
}

/// A time as typed; ranges are checked in [`Clock::time`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Clock {
    hour: u64,
    minute: u64,
    meridiem: Option<Meridiem>,
}

const FILLERS: &[&str] = &["on", "this", "에"];

/// Reads day and time parts in any order; each may appear at most once.
fn wall_request(toks: &[Tok]) -> Option<Request> {
    let mut cur = Cursor::new(toks);
    let mut day = None;
    let mut clock = None;
    while !cur.is_done() {
        if cur.eat_word(FILLERS).is_some() || cur.eat_sym(",").is_some() {
            continue;
        }
        if let Some(part) = day_part(&mut cur) {
            if day.replace(part).is_some() {
                return None;
            }
        } else if let Some(part) = time_part(&mut cur, day == Some(DayPart::Tonight)) {
            if clock.replace(part).is_some() {
                return None;
            }
        } else {
            return None;
        }
    }
    let evening = day == Some(DayPart::Tonight);
    let time = match clock {
        Some(clock) => Some(clock.time(evening)?),
        None => None,
    };
    Some(Request::Wall { day, time })
}

fn day_part(cur: &mut Cursor) -> Option<DayPart> {
    if let Some(day) = cur.word(0).and_then(named_day) {
        cur.advance(1);
        return Some(day);
    }
    weekday_part(cur)
        .or_else(|| numeric_date(cur))
        .or_else(|| korean_date(cur))
}

fn named_day(word: &str) -> Option<DayPart> {
    let day = match word {
        "today" | "오늘" => DayPart::Today,
        "tonight" => DayPart::Tonight,
        "tomorrow" | "tmr" | "tmrw" | "내일" => DayPart::Ahead(1),
        "모레" => DayPart::Ahead(2),
        _ => return None,
    };
    Some(day)
}

fn weekday_named(word: &str) -> Option<Weekday> {
    let day = match word {
        "mon" | "monday" | "월요일" => Weekday::Mon,
        "tue" | "tues" | "tuesday" | "화요일" => Weekday::Tue,
        "wed" | "wednesday" | "수요일" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" | "목요일" => Weekday::Thu,
        "fri" | "friday" | "금요일" => Weekday::Fri,
        "sat" | "saturday" | "토요일" => Weekday::Sat,
        "sun" | "sunday" | "일요일" => Weekday::Sun,
        _ => return None,
    };
    Some(day)
}

/// "friday", "next friday", "next week friday", "다음주 금요일", "다음 주 금요일".
fn weekday_part(cur: &mut Cursor) -> Option<DayPart> {
    let mut probe = *cur;
    let rule = if probe.eat_word(&["다음주"]).is_some() {
        WeekRule::NextWeek
    } else if probe.eat_word(&["next", "다음"]).is_some() {
        match probe.eat_word(&["week", "주"]) {
            Some(_) => WeekRule::NextWeek,
            None => WeekRule::AfterToday,
        }
    } else {
        WeekRule::TodayIfAhead
    };
    let day = probe.word(0).and_then(weekday_named)?;
    probe.advance(1);
    *cur = probe;
    Some(DayPart::Weekday { day, rule })
}

/// "2026-12-01" (also "/" or "."; an ISO "T" may follow), or month-first "12-01", "12/01".
fn numeric_date(cur: &mut Cursor) -> Option<DayPart> {
    let mut probe = *cur;
    let first = probe.eat_num()?;
    let sep = probe.eat_sym("-/.")?;
    let second = probe.eat_num().filter(|n| n.digits <= 2)?;
    let date = if first.digits == 4 {
        probe.eat_sym(&sep.to_string())?;
        let third = probe.eat_num().filter(|n| n.digits <= 2)?;
        if probe.word(0) == Some("t") && probe.num(1).is_some() {
            probe.advance(1);
        }
        DayPart::Date {
            year: Some(first.value),
            month: second.value,
            day: third.value,
        }
    } else if first.digits <= 2 && sep != '.' {
        // "9.30" is too easily a time to read as a date.
        DayPart::Date {
            year: None,
            month: first.value,
            day: second.value,
        }
    } else {
        return None;
    };
    *cur = probe;
    Some(date)
}

/// "12월 1일", "2026년 12월 1일".
fn korean_date(cur: &mut Cursor) -> Option<DayPart> {
    let mut probe = *cur;
    let year = if probe.word(1) == Some("년") {
        let year = probe.eat_num().filter(|n| n.digits == 4)?;
        probe.advance(1);
        Some(year.value)
    } else {
        None
    };
    let month = probe.eat_num()?.value;
    probe.eat_word(&["월"])?;
    let day = probe.eat_num()?.value;
    probe.eat_word(&["일"])?;
    *cur = probe;
    Some(DayPart::Date { year, month, day })
}

fn meridiem(word: &str) -> Option<Meridiem> {
    match word {
        "am" | "오전" => Some(Meridiem::Am),
        "pm" | "오후" => Some(Meridiem::Pm),
        _ => None,
    }
}

/// "9:30", "9:30 pm", "9pm", "at 9", "오후 3시 30분", "3시 반", "오후 3:30", "noon";
/// a lone "8" too when `after_tonight`.
fn time_part(cur: &mut Cursor, after_tonight: bool) -> Option<Clock> {
    let mut probe = *cur;
    let lone_ok = probe.eat_word(&["at"]).is_some() || after_tonight;
    if probe.eat_word(&["noon", "정오"]).is_some() {
        *cur = probe;
        return Some(Clock {
            hour: 12,
            minute: 0,
            meridiem: None,
        });
    }
    let korean_half = probe.eat_word(&["오전", "오후"]).and_then(meridiem);
    let hour = probe.eat_num().filter(|n| n.digits <= 2)?.value;
    let mut clock = Clock {
        hour,
        minute: 0,
        meridiem: korean_half,
    };
    let has_minutes_mark = if probe.eat_sym(":").is_some() {
        clock.minute = probe.eat_num().filter(|n| n.digits == 2)?.value;
        true
    } else if probe.eat_word(&["시"]).is_some() {
        clock.minute = korean_minutes(&mut probe);
        true
    } else {
        false
    };
    if let Some(half) = probe.eat_word(&["am", "pm"]).and_then(meridiem)
        && clock.meridiem.replace(half).is_some()
    {
        return None; // two markers, as in "오후 3pm"
    }
    // A lone number is a time only when something says so: "at 9", "9pm",
    // "오후 3", "tonight 8"; otherwise "9" alone could be anything.
    if !has_minutes_mark && !lone_ok && clock.meridiem.is_none() {
        return None;
    }
    *cur = probe;
    Some(clock)
}

/// What follows "시": "30분", "반" (half past), or nothing.
fn korean_minutes(cur: &mut Cursor) -> u64 {
    if cur.eat_word(&["반"]).is_some() {
        return 30;
    }
    match (cur.num(0), cur.word(1)) {
        (Some(minute), Some("분")) => {
            cur.advance(2);
            minute.value
        }
        _ => 0,
    }
}

impl Clock {
    /// `None` when out of range: minutes 0..=59, hours 0..=23, or 1..=12 with am/pm.
    fn time(self, evening: bool) -> Option<NaiveTime> {
        if self.minute > 59 {
            return None;
        }
        let hour = match self.meridiem {
            Some(half) if (1..=12).contains(&self.hour) => {
                let from_midnight = self.hour % 12;
                match half {
                    Meridiem::Am => from_midnight,
                    Meridiem::Pm => from_midnight + 12,
                }
            }
            Some(_) => return None,
            None if evening && (1..=11).contains(&self.hour) => self.hour + 12,
            // "Tonight 12" is noon by the clock and midnight (tomorrow) by intent: refused.
            None if evening && self.hour == 12 => return None,
            None => self.hour,
        };
        let hour = u32::try_from(hour).ok()?;
        let minute = u32::try_from(self.minute).ok()?;
        NaiveTime::from_hms_opt(hour, minute, 0)
    }
}

// ---------------------------------------------------------------------------
// From day and time to an instant

fn at_wall_time(
    day: Option<DayPart>,
    time: Option<NaiveTime>,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<DateTime<Utc>, WhenError> {
    let time = match (day, time) {
        (_, Some(time)) => time,
        (None | Some(DayPart::Today), None) => return Err(unreadable()),
        (Some(DayPart::Tonight), None) => hour_of_day(TONIGHT_HOUR),
        (Some(_), None) => hour_of_day(DEFAULT_HOUR),
    };
    let today = now.with_timezone(&zone).date_naive();
    let days = candidate_days(day, today)?;
    let at = first_after(&days, time, now, zone)?;
    within_window(at, now)
}

fn hour_of_day(hour: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN)
}

/// The days the input may mean, earliest first; the first one still ahead wins.
fn candidate_days(day: Option<DayPart>, today: NaiveDate) -> Result<Vec<NaiveDate>, WhenError> {
    let days = match day {
        None => vec![Some(today), plus_days(today, 1)],
        Some(DayPart::Today | DayPart::Tonight) => vec![Some(today)],
        Some(DayPart::Ahead(count)) => vec![plus_days(today, count)],
        Some(DayPart::Weekday { day, rule }) => weekday_days(day, rule, today),
        Some(DayPart::Date {
            year: Some(year),
            month,
            day,
        }) => vec![
            i32::try_from(year)
                .ok()
                .and_then(|year| calendar_date(year, month, day)),
        ],
        // A year-less date rolls over; 02-29 may exist in only one of the two years.
        Some(DayPart::Date {
            year: None,
            month,
            day,
        }) => [today.year(), today.year() + 1]
            .into_iter()
            .map(|year| calendar_date(year, month, day))
            .collect(),
    };
    let days: Vec<NaiveDate> = days.into_iter().flatten().collect();
    if days.is_empty() {
        Err(unreadable()) // e.g. "2026-02-30"
    } else {
        Ok(days)
    }
}

fn plus_days(date: NaiveDate, count: u64) -> Option<NaiveDate> {
    date.checked_add_days(Days::new(count))
}

fn calendar_date(year: i32, month: u64, day: u64) -> Option<NaiveDate> {
    let month = u32::try_from(month).ok()?;
    let day = u32::try_from(day).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

fn weekday_days(target: Weekday, rule: WeekRule, today: NaiveDate) -> Vec<Option<NaiveDate>> {
    let until = days_until(today.weekday(), target);
    match rule {
        // Today's match may have passed already; a week later is the fallback.
        WeekRule::TodayIfAhead => vec![plus_days(today, until), plus_days(today, until + 7)],
        WeekRule::AfterToday => vec![plus_days(today, if until == 0 { 7 } else { until })],
        WeekRule::NextWeek => {
            let next_monday = 7 - u64::from(today.weekday().num_days_from_monday());
            let into_week = u64::from(target.num_days_from_monday());
            vec![plus_days(today, next_monday + into_week)]
        }
    }
}

/// 0..=6 days from `from` to the next `to` (0 when they are the same day).
fn days_until(from: Weekday, to: Weekday) -> u64 {
    let from = from.num_days_from_monday();
    let to = to.num_days_from_monday();
    u64::from((to + 7 - from) % 7)
}

/// The first candidate day whose wall time `time` is after `now`.
fn first_after(
    days: &[NaiveDate],
    time: NaiveTime,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<DateTime<Utc>, WhenError> {
    let now_wall = now.with_timezone(&zone).naive_local();
    for date in days {
        let wall = date.and_time(time);
        match zone.from_local_datetime(&wall) {
            MappedLocalTime::Single(at) | MappedLocalTime::Ambiguous(at, _) => {
                let at = at.with_timezone(&Utc);
                if at > now {
                    return Ok(at);
                }
            }
            // A gap still ahead is the user's mistake to hear about; one
            // already behind us (today's, for "2:30") just is not the answer.
            MappedLocalTime::None if wall > now_wall => return Err(WhenError::Skipped),
            MappedLocalTime::None => {}
        }
    }
    Err(WhenError::Past)
}

/// A wall time as an instant without failing: a time skipped by DST moves
/// forward to the end of the gap, a repeated one takes the earlier instant.
fn resolve_forward(wall: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    if let Some(at) = earliest(wall, zone) {
        return at;
    }
    // Real transitions fall on whole minutes, so the first whole minute that
    // exists again is the transition instant itself.
    let mut probe = wall.with_second(0).unwrap_or(wall);
    for _ in 0..MAX_GAP_MINUTES {
        probe += TimeDelta::minutes(1);
        if let Some(at) = earliest(probe, zone) {
            return at;
        }
    }
    // No zone has a gap this long; reading the wall clock as UTC beats panicking.
    Utc.from_utc_datetime(&wall)
}

fn earliest(wall: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&wall)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
}

// ---------------------------------------------------------------------------
// Zones

/// A zone by IANA name, case-insensitive ("asia/seoul" -> Asia/Seoul); also accepts "UTC", "KST" (Asia/Seoul).
///
/// Spaces count as underscores, so "america/new york" is found too.
pub fn zone(name: &str) -> Option<Tz> {
    let wanted = name.trim().replace(' ', "_");
    // KST is not an IANA name, but it is what Korean users type.
    if wanted.eq_ignore_ascii_case("kst") {
        return Some(Tz::Asia__Seoul);
    }
    // "UTC" is in the IANA table itself.
    chrono_tz::TZ_VARIANTS
        .iter()
        .copied()
        .find(|tz| tz.name().eq_ignore_ascii_case(&wanted))
}

/// Up to `limit` IANA zone names containing `partial` (case-insensitive), for autocomplete; exact match first.
///
/// After the exact match come names whose whole or last segment starts with
/// `partial` ("seo" -> "Asia/Seoul"), then the other matches; alphabetical within each.
pub fn zones_like(partial: &str, limit: usize) -> Vec<&'static str> {
    let needle = partial.trim().replace(' ', "_").to_ascii_lowercase();
    let mut hits: Vec<(u8, &'static str)> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter_map(|name| match_rank(name, &needle).map(|rank| (rank, name)))
        .collect();
    hits.sort_unstable();
    hits.into_iter().take(limit).map(|(_, name)| name).collect()
}

/// Lower ranks sort first; `None` when the name does not contain the needle.
fn match_rank(name: &str, needle: &str) -> Option<u8> {
    let name = name.to_ascii_lowercase();
    let city = name.rsplit('/').next().unwrap_or_default();
    if name == needle {
        Some(0)
    } else if name.starts_with(needle) || city.starts_with(needle) {
        Some(1)
    } else if name.contains(needle) {
        Some(2)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// Repeating reminders

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Daily,
    Weekdays,
    Weekly,
    Monthly,
}

impl Repeat {
    /// "daily"/"day"/"매일", "weekdays"/"weekday"/"평일", "weekly"/"week"/"매주",
    /// "monthly"/"month"/"매월"/"매달"; case and surrounding spaces ignored.
    pub fn parse(raw: &str) -> Option<Self> {
        let repeat = match raw.trim().to_lowercase().as_str() {
            "daily" | "day" | "매일" => Self::Daily,
            "weekdays" | "weekday" | "평일" => Self::Weekdays,
            "weekly" | "week" | "매주" => Self::Weekly,
            "monthly" | "month" | "매월" | "매달" => Self::Monthly,
            _ => return None,
        };
        Some(repeat)
    }

    /// "daily", "weekdays", "weekly", "monthly": what [`Repeat::parse`] reads back.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekdays => "weekdays",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    /// The next occurrence after `at`, at the same local wall-clock time in `zone` (so 9:00 stays 9:00 across DST).
    /// A wall time skipped by DST moves forward to the first valid instant after the gap; an ambiguous one takes the earlier.
    /// Monthly on the 31st goes to the last day of shorter months but returns to the 31st afterwards: take the anchor day as a parameter.
    ///
    /// `anchor_day` outside 1..=31 means the day of month of `at`. At chrono's
    /// last representable date the calendar cannot advance and `at`'s wall
    /// time is reused.
    pub fn next(self, at: DateTime<Utc>, zone: Tz, anchor_day: u32) -> DateTime<Utc> {
        let wall = at.with_timezone(&zone).naive_local();
        let date = self.next_date(wall.date(), anchor_day);
        resolve_forward(date.and_time(wall.time()), zone)
    }

    fn next_date(self, date: NaiveDate, anchor_day: u32) -> NaiveDate {
        let next = match self {
            Self::Daily => date.succ_opt(),
            Self::Weekdays => next_weekday(date),
            Self::Weekly => plus_days(date, 7),
            Self::Monthly => next_month(date, anchor_day),
        };
        next.unwrap_or(date)
    }
}

fn next_weekday(date: NaiveDate) -> Option<NaiveDate> {
    let mut next = date.succ_opt()?;
    while matches!(next.weekday(), Weekday::Sat | Weekday::Sun) {
        next = next.succ_opt()?;
    }
    Some(next)
}

/// The anchor day in the following month, or that month's last day if shorter.
fn next_month(date: NaiveDate, anchor_day: u32) -> Option<NaiveDate> {
    let (year, month) = following_month(date.year(), date.month());
    let anchor = if (1..=31).contains(&anchor_day) {
        anchor_day
    } else {
        date.day()
    };
    let day = anchor.min(days_in_month(year, month)?);
    NaiveDate::from_ymd_opt(year, month, day)
}

fn following_month(year: i32, month: u32) -> (i32, u32) {
    if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

/// The day before the first of the following month.
fn days_in_month(year: i32, month: u32) -> Option<u32> {
    let (next_year, next_month) = following_month(year, month);
    let last = NaiveDate::from_ymd_opt(next_year, next_month, 1)?.pred_opt()?;
    Some(last.day())
}

// ---------------------------------------------------------------------------
// Preview

/// How a parsed time reads back to the user for a preview: "Thu 2026-12-03 21:00 (Asia/Seoul), in 2 h 5 min".
/// `korean` selects "2026-12-03 (목) 21:00 (Asia/Seoul), 2시간 5분 후".
///
/// The distance is rounded to the nearest minute under a day ("2 h 5 min"),
/// to the nearest hour from a day on ("3 d 2 h"), and shown in seconds under
/// a minute ("45 s"). A time already passed reads "5 min ago" / "5분 전".
pub fn preview(at: DateTime<Utc>, now: DateTime<Utc>, zone: Tz, korean: bool) -> String {
    let local = at.with_timezone(&zone);
    let distance = distance(at - now, korean);
    if korean {
        format!(
            "{} ({}) {} ({}), {distance}",
            local.format("%Y-%m-%d"),
            korean_weekday(local.weekday()),
            local.format("%H:%M"),
            zone.name(),
        )
    } else {
        format!(
            "{} ({}), {distance}",
            local.format("%a %Y-%m-%d %H:%M"),
            zone.name(),
        )
    }
}

fn korean_weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "월",
        Weekday::Tue => "화",
        Weekday::Wed => "수",
        Weekday::Thu => "목",
        Weekday::Fri => "금",
        Weekday::Sat => "토",
        Weekday::Sun => "일",
    }
}

fn distance(delta: TimeDelta, korean: bool) -> String {
    let parts = distance_parts(delta.num_seconds().unsigned_abs());
    let ahead = delta > TimeDelta::zero();
    if parts.is_empty() {
        return if korean { "지금" } else { "now" }.to_string();
    }
    let words: Vec<String> = parts
        .iter()
        .map(|&(amount, unit)| {
            let label = unit_label(unit, korean);
            if korean {
                format!("{amount}{label}")
            } else {
                format!("{amount} {label}")
            }
        })
        .collect();
    let words = words.join(" ");
    match (korean, ahead) {
        (true, true) => format!("{words} 후"),
        (true, false) => format!("{words} 전"),
        (false, true) => format!("in {words}"),
        (false, false) => format!("{words} ago"),
    }
}

/// The two largest non-zero units, rounded as [`preview`] documents.
fn distance_parts(seconds: u64) -> Vec<(u64, Unit)> {
    const DAY_MINUTES: u64 = 24 * 60;
    if seconds < 60 {
        return [(seconds, Unit::Second)]
            .into_iter()
            .filter(|&(amount, _)| amount > 0)
            .collect();
    }
    let minutes = (seconds + 30) / 60;
    let parts = if minutes < DAY_MINUTES {
        [(minutes / 60, Unit::Hour), (minutes % 60, Unit::Minute)]
    } else {
        let hours = (minutes + 30) / 60;
        [(hours / 24, Unit::Day), (hours % 24, Unit::Hour)]
    };
    parts
        .into_iter()
        .filter(|&(amount, _)| amount > 0)
        .collect()
}

fn unit_label(unit: Unit, korean: bool) -> &'static str {
    match (unit, korean) {
        (Unit::Second, false) => "s",
        (Unit::Minute, false) => "min",
        (Unit::Hour, false) => "h",
        (Unit::Day, false) => "d",
        (Unit::Week, false) => "w",
        (Unit::Second, true) => "초",
        (Unit::Minute, true) => "분",
        (Unit::Hour, true) => "시간",
        (Unit::Day, true) => "일",
        (Unit::Week, true) => "주",
    }
}

/// A time as a list's label shows it, short: `12-03 21:40` in the zone.
pub fn short(at: i64, zone: Tz) -> String {
    DateTime::from_timestamp(at, 0)
        .map(|t| t.with_timezone(&zone).format("%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
