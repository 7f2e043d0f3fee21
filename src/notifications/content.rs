//! A notification's subject, text and HTML are handlebars templates, rendered per recipient
//! with the notification's `data` plus the recipient's `name` and `email`. HTML escapes what
//! it inserts; the subject and the text take values as they are. Templates are compiled at
//! intake, so a broken one is refused there, not found dead later.

use handlebars::{Handlebars, no_escape};
use serde_json::{Map, Value};

use super::request::Recipient;

/// One recipient's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// The notification's content, as stored.
pub struct Source<'a> {
    pub subject: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
    pub data: Option<&'a Value>,
}

pub struct Renderer {
    plain: Handlebars<'static>,
    html: Handlebars<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        let mut plain = Handlebars::new();
        plain.register_escape_fn(no_escape);
        Self {
            plain,
            html: Handlebars::new(),
        }
    }
}

impl Renderer {
    /// Whether `source` is a template that compiles (the reason when not).
    pub fn check(source: &str) -> Result<(), String> {
        handlebars::Template::compile(source)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub fn render(&self, source: &Source<'_>, to: &Recipient) -> Result<Rendered, String> {
        let data = context(source.data, to);
        let plain = |template: &str| {
            self.plain
                .render_template(template, &data)
                .map_err(|e| e.to_string())
        };
        Ok(Rendered {
            // A value with a line break must not become a second header line.
            subject: plain(source.subject)?.replace(['\r', '\n'], " "),
            text: plain(source.text)?,
            html: source
                .html
                .map(|html| {
                    self.html
                        .render_template(html, &data)
                        .map_err(|e| e.to_string())
                })
                .transpose()?,
        })
    }
}

/// The notification's data with the recipient's `name` and `email` over it.
fn context(data: Option<&Value>, to: &Recipient) -> Value {
    let mut map = match data {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    map.insert(
        "name".into(),
        Value::String(to.name.clone().unwrap_or_default()),
    );
    map.insert(
        "email".into(),
        Value::String(to.email.clone().unwrap_or_default()),
    );
    Value::Object(map)
}
