//! Command names, descriptions, options and choices in both languages, from the message
//! catalogue: `cmd.<path>.name` and `cmd.<path>.description`, where the path is the command's
//! words and then an option's name (`cmd.settings.set.language.description`); a choice is
//! `cmd.choice.<its English name as a slug>`. English descriptions come from the catalogue
//! too, so the help and Discord's own list say the same.

use std::borrow::Cow;

use super::Command;
use crate::i18n::{self, Locale};

pub fn apply(commands: &mut [Command]) {
    for command in commands {
        let path = command.name.to_string();
        apply_to(command, &path);
    }
}

fn apply_to(command: &mut Command, path: &str) {
    let base = format!("cmd.{path}");
    if let Some(text) = found(Locale::En, &format!("{base}.description")) {
        command.description = Some(Cow::Owned(text));
    }
    command.name_localizations = korean(&format!("{base}.name"));
    command.description_localizations = korean(&format!("{base}.description"));
    for parameter in &mut command.parameters {
        let key = format!("{base}.{}", parameter.name);
        if let Some(text) = found(Locale::En, &format!("{key}.description")) {
            parameter.description = Some(Cow::Owned(text));
        }
        parameter.name_localizations = korean(&format!("{key}.name"));
        parameter.description_localizations = korean(&format!("{key}.description"));
        for choice in parameter.choices.to_mut() {
            choice.localizations = korean(&format!("cmd.choice.{}", slug(&choice.name)));
        }
    }
    for sub in &mut command.subcommands {
        let path = format!("{path}.{}", sub.name);
        apply_to(sub, &path);
    }
}

/// `The server's language` -> `the_server_s_language`.
pub fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn found(locale: Locale, key: &str) -> Option<String> {
    i18n::has(locale, key).then(|| i18n::text(locale, key))
}

fn korean(key: &str) -> Cow<'static, [(Cow<'static, str>, Cow<'static, str>)]> {
    match found(Locale::Ko, key) {
        Some(text) => Cow::Owned(vec![(Cow::Borrowed("ko"), Cow::Owned(text))]),
        None => Cow::Borrowed(&[]),
    }
}
