//! A notification's subject, text and HTML are handlebars templates, rendered per recipient
//! with the notification's `data` plus the recipient's `name` and `email`. HTML escapes what
//! it inserts; the subject and the text take values as they are. Templates are compiled at
//! intake, so a broken one is refused there, not found dead later.

use handlebars::{Handlebars, no_escape};
use serde_json::{Map, Value};

/// One recipient's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// The recipient as templates see it.
pub struct Who<'a> {
    pub name: &'a str,
    pub email: &'a str,
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
    /// Whether `source` is a template that compiles and stays in the safe subset (the reason
    /// when not).
    pub fn check(source: &str) -> Result<(), String> {
        let template = handlebars::Template::compile(source).map_err(|e| e.to_string())?;
        check_elements(&template, 0, false)
    }

    /// Renders for one recipient, known by `name` and `email` (empty when unknown).
    pub fn render(&self, source: &Source<'_>, to: &Who<'_>) -> Result<Rendered, String> {
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
fn context(data: Option<&Value>, to: &Who<'_>) -> Value {
    let mut map = match data {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    map.insert("name".into(), Value::String(to.name.to_owned()));
    map.insert("email".into(), Value::String(to.email.to_owned()));
    Value::Object(map)
}

/// Helpers a template may call with arguments.
const EXPRESSION_HELPERS: [&str; 11] = [
    "lookup", "eq", "ne", "gt", "gte", "lt", "lte", "and", "or", "not", "len",
];
/// Blocks a template may open.
const BLOCK_HELPERS: [&str; 4] = ["if", "unless", "with", "each"];
/// How deeply blocks may nest.
const MAX_DEPTH: usize = 4;

fn no_subexpressions(helper: &handlebars::template::HelperTemplate) -> Result<(), String> {
    use handlebars::template::Parameter;
    let sub = |p: &Parameter| matches!(p, Parameter::Subexpression(_));
    if helper.params.iter().any(sub) || helper.hash.values().any(sub) {
        return Err("subexpressions are not offered".into());
    }
    Ok(())
}

fn check_elements(
    template: &handlebars::Template,
    depth: usize,
    in_each: bool,
) -> Result<(), String> {
    use handlebars::template::TemplateElement as E;
    for element in &template.elements {
        match element {
            E::RawString(_) | E::Comment(_) => {}
            E::Expression(helper) | E::HtmlExpression(helper) => {
                let name = helper.name.as_name().unwrap_or_default();
                let call = !helper.params.is_empty() || !helper.hash.is_empty();
                if call && !EXPRESSION_HELPERS.contains(&name) {
                    return Err(format!("the helper {name:?} is not offered"));
                }
                no_subexpressions(helper)?;
            }
            E::HelperBlock(helper) => {
                let name = helper.name.as_name().unwrap_or_default();
                if !BLOCK_HELPERS.contains(&name) {
                    return Err(format!("the block {name:?} is not offered"));
                }
                if depth + 1 > MAX_DEPTH {
                    return Err(format!("blocks nest at most {MAX_DEPTH} deep"));
                }
                no_subexpressions(helper)?;
                let each = name == "each";
                if each && in_each {
                    return Err("each inside each is not offered".into());
                }
                for inner in [&helper.template, &helper.inverse].into_iter().flatten() {
                    check_elements(inner, depth + 1, in_each || each)?;
                }
            }
            E::DecoratorExpression(_) | E::DecoratorBlock(_) => {
                return Err("decorators and inline partials are not offered".into());
            }
            E::PartialExpression(_) | E::PartialBlock(_) => {
                return Err("partials are not offered".into());
            }
            // Whatever a later handlebars adds is refused until it is looked at.
            _ => return Err("this template construct is not offered".into()),
        }
    }
    Ok(())
}
