//! Handlebars templates (pages and e-mails), embedded in the binary so that one file is all an
//! operator deploys. Strict mode turns a missing variable into an error, not a blank.
//!
//! Two registries over the same files: HTML templates escape what they insert; the plain-text
//! parts of e-mails must not (`account's` stays `account's`, not `account&#x27;s`).

use handlebars::{Handlebars, RenderError, TemplateError};
use rust_embed::RustEmbed;
use serde::Serialize;

#[derive(RustEmbed)]
#[folder = "templates/"]
struct Embedded;

pub struct Templates {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
}

impl Templates {
    /// Every template under `templates/`, named by its path without `.hbs` (`pages/home`).
    pub fn load() -> Result<Self, TemplateError> {
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        crate::i18n::register_helper(&mut html);
        html.register_embed_templates_with_extension::<Embedded>(".hbs")?;
        let mut text = html.clone();
        text.register_escape_fn(handlebars::no_escape);
        Ok(Self { html, text })
    }

    /// Renders an HTML template (a page, the HTML part of a mail).
    pub fn html<T: Serialize>(&self, name: &str, data: &T) -> Result<String, RenderError> {
        self.html.render(name, data)
    }

    /// Renders a plain-text template, nothing escaped.
    pub fn text<T: Serialize>(&self, name: &str, data: &T) -> Result<String, RenderError> {
        self.text.render(name, data)
    }

    pub fn has(&self, name: &str) -> bool {
        self.html.has_template(name)
    }
}
