//! The buttons of a delivered reminder, as their custom ids say them: `remind:<id>:<press>`.
//! Any Herald understands them, after a restart too; only the offered snoozes parse.

use super::BUTTON;

/// A button pressed on a delivered reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// Again after this many seconds.
    Snooze(i64),
    /// Again at the same time tomorrow (in the reminder's time zone).
    Tomorrow,
    Done,
}

impl Press {
    /// The snoozes the buttons offer, in seconds.
    pub const SNOOZES: [i64; 2] = [1200, 3600];

    pub fn custom_id(self, reminder: i64) -> String {
        match self {
            Self::Snooze(secs) => format!("{BUTTON}:{reminder}:snooze:{secs}"),
            Self::Tomorrow => format!("{BUTTON}:{reminder}:tomorrow"),
            Self::Done => format!("{BUTTON}:{reminder}:done"),
        }
    }

    /// `remind:<id>:<press>` back into the reminder and the press; only the offered snoozes.
    pub fn parse(custom_id: &str) -> Option<(i64, Self)> {
        let mut parts = custom_id.split(':');
        if parts.next() != Some(BUTTON) {
            return None;
        }
        let id = parts.next()?.parse().ok()?;
        let press = match (parts.next()?, parts.next()) {
            ("snooze", Some(secs)) => {
                let secs = secs.parse().ok()?;
                Self::SNOOZES
                    .contains(&secs)
                    .then_some(Self::Snooze(secs))?
            }
            ("tomorrow", None) => Self::Tomorrow,
            ("done", None) => Self::Done,
            _ => return None,
        };
        parts.next().is_none().then_some((id, press))
    }
}
