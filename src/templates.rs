//! Handlebars templates (pages and, later, e-mails), embedded in the binary so that one file is
//! all an operator deploys. Strict mode turns a missing variable into an error, not a blank.

use handlebars::{Handlebars, TemplateError};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "templates/"]
struct Embedded;

/// Every template under `templates/`, named by its path without `.hbs` (`pages/home`).
pub fn load() -> Result<Handlebars<'static>, TemplateError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_embed_templates_with_extension::<Embedded>(".hbs")?;
    Ok(hb)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        let hb = super::load().expect("templates compile");
        assert!(hb.has_template("layout"));
        assert!(hb.has_template("pages/home"));
        assert!(hb.has_template("emails/verify.txt"));
    }
}
