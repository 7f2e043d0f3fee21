//! One message catalogue, in English and Korean, for pages, e-mails, error bodies and slash
//! commands: `locales/en.txt` and `locales/ko.txt`, embedded in the binary.
//!
//! The format is one message per line, `key = text`; `#` starts a comment line. A text may
//! hold placeholders, `{name}`, filled from the arguments of the call. A message that depends
//! on a number has variants `key.one` and `key.other`, chosen by the argument `count` (Korean
//! needs only `key`). Texts are trusted (they may carry a little markup for pages); arguments
//! are not: pages escape them.

use std::collections::HashMap;
use std::sync::LazyLock;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    En,
    Ko,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Ko];

    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Ko => "ko",
        }
    }

    /// `ko`, `ko-KR`, `en-US` ...; anything else is not supported.
    pub fn parse(raw: &str) -> Option<Self> {
        let primary = raw.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Locale::En),
            "ko" => Some(Locale::Ko),
            _ => None,
        }
    }

    /// The supported language the browser prefers most (by `q`), English when none is.
    pub fn negotiate(accept_language: Option<&str>) -> Self {
        let Some(header) = accept_language else {
            return Locale::En;
        };
        let mut ranked: Vec<(f32, Locale)> = header
            .split(',')
            .take(32)
            .filter_map(|item| {
                let mut parts = item.split(';');
                let locale = Locale::parse(parts.next()?)?;
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                Some((q, locale))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map_or(Locale::En, |(_, l)| *l)
    }

    fn catalogue(self) -> &'static Catalogue {
        match self {
            Locale::En => &EN,
            Locale::Ko => &KO,
        }
    }
}

/// The messages of one language.
pub struct Catalogue(HashMap<String, String>);

impl Catalogue {
    /// Parses the catalogue format; a malformed line is an error naming it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut messages = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once(" = ")
                .ok_or_else(|| format!("line {}: expected `key = text`", number + 1))?;
            let value = value.replace("\\n", "\n");
            if messages.insert(key.trim().to_owned(), value).is_some() {
                return Err(format!("line {}: {key} is defined twice", number + 1));
            }
        }
        Ok(Self(messages))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

static EN: LazyLock<Catalogue> = LazyLock::new(|| load(include_str!("../locales/en.txt")));
static KO: LazyLock<Catalogue> = LazyLock::new(|| load(include_str!("../locales/ko.txt")));

fn load(text: &str) -> Catalogue {
    // The files are part of the binary and a test parses them: a failure here is a build bug.
    Catalogue::parse(text).unwrap_or_else(|err| panic!("a locale file is malformed: {err}"))
}

/// The catalogue of a language (tests compare them).
pub fn catalogue(locale: Locale) -> &'static Catalogue {
    locale.catalogue()
}

/// The placeholders a text uses, in order of appearance.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        found.push(&rest[start + 1..start + len]);
        rest = &rest[start + len + 1..];
    }
    found
}

/// The raw text for `key` (the `count` variant when one applies), if the language has it.
fn lookup(locale: Locale, key: &str, count: Option<i64>) -> Option<&'static str> {
    let catalogue = locale.catalogue();
    if let Some(count) = count {
        let variant = if count == 1 { "one" } else { "other" };
        if let Some(text) = catalogue.get(&format!("{key}.{variant}")) {
            return Some(text);
        }
    }
    catalogue.get(key)
}

/// The message `key` in `locale` with `args` filled in; English when the language lacks it
/// (a test keeps both complete), the key itself when neither has it.
pub fn message(locale: Locale, key: &str, args: &[(&str, &str)]) -> String {
    let count = args
        .iter()
        .find(|(name, _)| *name == "count")
        .and_then(|(_, v)| v.parse().ok());
    let text = lookup(locale, key, count)
        .or_else(|| lookup(Locale::En, key, count))
        .unwrap_or(key);
    fill(text, args)
}

/// A message without arguments.
pub fn text(locale: Locale, key: &str) -> String {
    message(locale, key, &[])
}

/// Whether `locale` has its own text for `key` (a plain key or a counted one).
pub fn has(locale: Locale, key: &str) -> bool {
    lookup(locale, key, Some(2)).is_some()
}

fn fill(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// `{{t "key" name=value ...}}` in templates: the message in the language of the page (the
/// root context's `lang`), arguments escaped by the registry's escape function (HTML for
/// pages and HTML mail, none for text mail).
pub fn register_helper(handlebars: &mut Handlebars<'_>) {
    handlebars.register_helper("t", Box::new(t_helper));
}

fn t_helper(
    h: &Helper<'_>,
    registry: &Handlebars<'_>,
    ctx: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let key = h
        .param(0)
        .and_then(|p| p.value().as_str())
        .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("t", 0))?;
    let locale = ctx
        .data()
        .get("lang")
        .and_then(|v| v.as_str())
        .and_then(Locale::parse)
        .unwrap_or(Locale::En);
    let args: Vec<(String, String)> = h
        .hash()
        .iter()
        .map(|(name, value)| {
            let raw = match value.value() {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (name.to_string(), registry.get_escape_fn()(&raw))
        })
        .collect();
    let args: Vec<(&str, &str)> = args.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    out.write(&message(locale, key, &args))?;
    Ok(())
}
