//! Profile fields, validated once for every way they arrive: a user's own change (API or
//! page) and what a sign-in provider reports.

use serde::{Deserialize, Deserializer};
use url::Url;
use utoipa::ToSchema;

use super::users::ProfileChange;
use super::{AccountsError, Result};
use crate::i18n::Locale;

/// The longest display name or nickname, in characters.
pub const NAME_MAX: usize = 100;
/// The longest avatar URL, in bytes.
pub const AVATAR_MAX: usize = 1024;

/// A change as a client sends it (the API's JSON body, or a page's form): an absent field is
/// left alone, `null` clears it. Role and status are not the user's to change: they are
/// refused as unknown fields.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// Shown to others; at most 100 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub nickname: Option<Option<String>>,
    /// An https URL.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = "uri", max_length = 1024)]
    pub avatar_url: Option<Option<String>>,
    /// `en` or `ko`.
    #[schema(pattern = "^(en|ko)([-_][A-Za-z0-9]+)*$")]
    pub locale: Option<String>,
}

/// A field that is present (possibly `null`) becomes `Some(..)`.
fn present<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl ProfileUpdate {
    /// Checks every field; the first bad one is the error.
    pub fn validate(self) -> Result<ProfileChange> {
        Ok(ProfileChange {
            display_name: self
                .display_name
                .map(|v| name("display_name", v))
                .transpose()?,
            nickname: self.nickname.map(|v| name("nickname", v)).transpose()?,
            avatar_url: self.avatar_url.map(avatar_url).transpose()?,
            locale: self.locale.map(|l| locale(&l)).transpose()?,
        })
    }
}

/// Trimmed text of at most `NAME_MAX` printable characters; blank means none.
pub fn name(field: &'static str, value: Option<String>) -> Result<Option<String>> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match value {
        Some(v) if v.chars().count() > NAME_MAX || v.chars().any(char::is_control) => {
            Err(AccountsError::InvalidField {
                field,
                reason: format!("at most {NAME_MAX} printable characters"),
            })
        }
        other => Ok(other),
    }
}

pub fn avatar_url(value: Option<String>) -> Result<Option<String>> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match value {
        Some(url) if !is_avatar_url(&url) => Err(AccountsError::InvalidField {
            field: "avatar_url",
            reason: format!("an https URL of at most {AVATAR_MAX} characters"),
        }),
        other => Ok(other),
    }
}

pub fn locale(raw: &str) -> Result<Locale> {
    Locale::parse(raw).ok_or_else(|| AccountsError::InvalidField {
        field: "locale",
        reason: "en or ko".into(),
    })
}

fn is_avatar_url(url: &str) -> bool {
    url.len() <= AVATAR_MAX && Url::parse(url).is_ok_and(|u| u.scheme() == "https")
}

/// A provider's name as Herald keeps it: printable, trimmed, cut to `NAME_MAX` characters. A
/// provider may report anything; a long name must not keep its owner from signing up.
pub fn provider_name(value: Option<&str>) -> Option<String> {
    let cleaned: String = value?
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(NAME_MAX)
        .collect();
    let cleaned = cleaned.trim_end().to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// A provider's avatar when it is an https URL of acceptable length; otherwise none.
pub fn provider_avatar(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|url| is_avatar_url(url))
        .map(str::to_owned)
}
