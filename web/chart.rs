//! Deliveries per day by outcome as an SVG drawn on the server: stacked bars, no script. Each
//! bar carries a `<title>` (a tooltip, and what screen readers read), and the figure a summary.

use std::fmt::Write;

use handlebars::html_escape;

use crate::i18n::{self, Locale};
use crate::notifications::history::Day;

const WIDTH: i64 = 600;
const HEIGHT: i64 = 160;
const AXIS: i64 = 20;

/// A part of a day's bar: its count, colour class and catalogue key.
type Part = (fn(&Day) -> i64, &'static str, &'static str);

/// The parts in stacking order, bottom first.
const PARTS: [Part; 4] = [
    (|d| d.sent, "sent", "chart.sent"),
    (|d| d.failed, "failed", "chart.failed"),
    (|d| d.pending, "pending", "chart.pending"),
    (|d| d.cancelled, "cancelled", "chart.cancelled"),
];

/// The chart; empty when there is nothing to draw (the page says so in words instead).
pub fn daily_svg(days: &[Day], locale: Locale) -> String {
    let total = |d: &Day| PARTS.iter().map(|(get, _, _)| get(d)).sum::<i64>();
    let max = days.iter().map(total).max().unwrap_or(0).max(1);
    let all: i64 = days.iter().map(total).sum();
    if all == 0 {
        return String::new();
    }
    let summary = i18n::message(locale, "chart.summary", &[("count", &all.to_string())]);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {}\" role=\"img\" aria-label=\"{}\" \
         xmlns=\"http://www.w3.org/2000/svg\">",
        HEIGHT + AXIS,
        html_escape(&summary)
    );
    let slot = WIDTH / days.len().max(1) as i64;
    for (i, day) in days.iter().enumerate() {
        let x = i as i64 * slot;
        let mut y = HEIGHT;
        let mut tip = crate::web::reply::when(day.day * 86_400)[..10].to_owned();
        for (get, class, key) in PARTS {
            let n = get(day);
            if n == 0 {
                continue;
            }
            let h = (n * HEIGHT / max).max(1);
            y -= h;
            let _ = write!(
                svg,
                "<rect class=\"{class}\" x=\"{}\" y=\"{y}\" width=\"{}\" height=\"{h}\"/>",
                x + 1,
                (slot - 2).max(1)
            );
            let _ = write!(tip, ", {} {n}", i18n::text(locale, key));
        }
        // A transparent bar over the whole slot carries the day's tooltip.
        let _ = write!(
            svg,
            "<rect class=\"slot\" x=\"{x}\" y=\"0\" width=\"{slot}\" height=\"{HEIGHT}\">\
             <title>{}</title></rect>",
            html_escape(&tip)
        );
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let date = |d: &Day| crate::web::reply::when(d.day * 86_400)[5..10].to_owned();
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\">{}</text><text x=\"{WIDTH}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            HEIGHT + 15,
            date(first),
            HEIGHT + 15,
            date(last)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One entry of the legend under a chart: a colour's class and what it means.
#[derive(serde::Serialize)]
pub struct LegendItem {
    class: &'static str,
    label: String,
}

pub fn legend(locale: Locale) -> Vec<LegendItem> {
    PARTS
        .iter()
        .map(|(_, class, key)| LegendItem {
            class,
            label: i18n::text(locale, key),
        })
        .collect()
}
