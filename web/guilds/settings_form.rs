//! The server page's settings form: the view of the settings as form fields, and the
//! settings a submitted form carries (manager roles as numbered rows; a role's exact expiry kept
//! when the day shown is not changed).

use serde::Serialize;

use crate::guilds::settings::{Language, ManagerRole, RoleAccess, Settings};
use crate::web::error::{ApiError, ErrorCode};
use crate::web::reply::{Form, when};

#[derive(Serialize)]
pub(super) struct SettingsForm {
    base_revision: i64,
    channels: Vec<ChannelOption>,
    languages: Vec<LanguageOption>,
    manager_roles: Vec<RoleRow>,
}

#[derive(Serialize)]
struct ChannelOption {
    id: String,
    name: String,
    notify: bool,
    log: bool,
}

#[derive(Serialize)]
struct LanguageOption {
    value: &'static str,
    label_key: &'static str,
    selected: bool,
}

#[derive(Serialize)]
struct RoleRow {
    index: usize,
    options: Vec<RoleOption>,
    write: bool,
    /// The expiry's day, as the date field shows it.
    expires: String,
    /// The exact expiry, kept when the day is not changed.
    expires_at: Option<i64>,
}

#[derive(Serialize)]
struct RoleOption {
    id: String,
    name: String,
    selected: bool,
}

pub(super) fn settings_form(
    base: i64,
    settings: &Settings,
    channels: &[(String, String)],
    roles: &[(String, String)],
) -> SettingsForm {
    let is = |id: &String, chosen: Option<u64>| chosen.is_some_and(|c| c.to_string() == *id);
    let languages = [
        ("", "dashboard.language_default", None),
        ("en", "dashboard.language_en", Some(Language::En)),
        ("ko", "dashboard.language_ko", Some(Language::Ko)),
    ];
    // The roles named, then one empty row to add another (up to the limit).
    let mut rows: Vec<Option<&ManagerRole>> = settings.manager_roles.iter().map(Some).collect();
    if rows.len() < crate::guilds::settings::MAX_MANAGER_ROLES {
        rows.push(None);
    }
    SettingsForm {
        base_revision: base,
        channels: channels
            .iter()
            .map(|(id, name)| ChannelOption {
                id: id.clone(),
                name: name.clone(),
                notify: is(id, settings.notify_channel),
                log: is(id, settings.log_channel),
            })
            .collect(),
        languages: languages
            .into_iter()
            .map(|(value, label_key, language)| LanguageOption {
                value,
                label_key,
                selected: settings.language == language,
            })
            .collect(),
        manager_roles: rows
            .into_iter()
            .enumerate()
            .map(|(index, role)| RoleRow {
                index,
                options: roles
                    .iter()
                    .map(|(id, name)| RoleOption {
                        id: id.clone(),
                        name: name.clone(),
                        selected: role.is_some_and(|r| r.role_id.to_string() == *id),
                    })
                    .collect(),
                write: role.is_some_and(|r| r.access == RoleAccess::ReadWrite),
                expires: role
                    .and_then(|r| r.expires_at)
                    .map(day_of)
                    .unwrap_or_default(),
                expires_at: role.and_then(|r| r.expires_at),
            })
            .collect(),
    }
}

/// The settings a form carries (the role rows `role_N`, `access_N`, `expires_N`).
pub(super) fn form_settings(form: &Form) -> Result<Settings, ApiError> {
    let bad = |field: &str| ApiError::new(ErrorCode::InvalidField, format!("invalid {field}"));
    let channel = |name: &str| match form.get(name).map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => raw.parse::<u64>().map(Some).map_err(|_| bad(name)),
    };
    let language = match form.get("language") {
        None | Some("") => None,
        Some("en") => Some(Language::En),
        Some("ko") => Some(Language::Ko),
        Some(_) => return Err(bad("language")),
    };
    let mut manager_roles = Vec::new();
    for index in 0..=crate::guilds::settings::MAX_MANAGER_ROLES {
        let Some(role) = form.get(&format!("role_{index}")).map(str::trim) else {
            continue;
        };
        if role.is_empty() {
            continue;
        }
        let role_id = role.parse().map_err(|_| bad("manager_roles"))?;
        let access = match form.get(&format!("access_{index}")) {
            Some("read_write") => RoleAccess::ReadWrite,
            _ => RoleAccess::Read,
        };
        let exact = form
            .get(&format!("expires_at_{index}"))
            .and_then(|v| v.parse::<i64>().ok());
        let expires_at = match form.get(&format!("expires_{index}")).map(str::trim) {
            None | Some("") => None,
            // The day shown unchanged: the exact time stands (the field holds days only).
            Some(date) if exact.is_some_and(|at| day_of(at) == date) => exact,
            Some(date) => Some(date_to_unix(date).ok_or_else(|| bad("expires"))?),
        };
        manager_roles.push(ManagerRole {
            role_id,
            access,
            expires_at,
        });
    }
    Ok(Settings {
        notify_channel: channel("notify_channel")?,
        language,
        log_channel: channel("log_channel")?,
        manager_roles,
    })
}

/// A time's UTC day as a date field writes it: `YYYY-MM-DD`.
fn day_of(at: i64) -> String {
    when(at)[..10].to_owned()
}

/// `YYYY-MM-DD` (a date field) to the start of that day, UTC; years 1970 to 9999.
fn date_to_unix(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1970..=9999).contains(&y)
        && (1..=12).contains(&m)
        && (1..=month_days[(m - 1) as usize]).contains(&d);
    if !valid {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

pub(super) fn base_revision(form: &Form) -> Result<i64, ApiError> {
    form.get("base_revision")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidField, "invalid base_revision"))
}
