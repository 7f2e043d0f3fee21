//! E-mail addresses, canonicalised once so that an address names exactly one account.
//!
//! Identity is decided here, in Rust, and compared byte for byte in the database (binary
//! collation on MySQL/MariaDB, SQLite's default): never by a collation that folds case, accents
//! or width. The canonical form is:
//! - the whole address in Unicode NFKC (full-width letters and a full-width `＠` become ASCII),
//! - the local part lower-cased (NFKC again after lower-casing),
//! - the domain in its ASCII (IDNA / punycode) form under the strict STD3 rules,
//! - no default-ignorable code points at all (zero-width spaces and joiners, soft hyphens,
//!   bidirectional controls, variation selectors), no whitespace, no control characters.
//!
//! `victím@example.com` therefore stays a different address from `victim@example.com`, and
//! `victim@exámple.com` becomes `victim@xn--exmple-qta.com`: mail for it goes to that domain,
//! never to the look-alike account's owner.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// The longest address SMTP carries (RFC 5321: 254 octets in a path).
pub const MAX_LEN: usize = 254;
/// Input longer than this is refused before any Unicode work is done on it.
const MAX_INPUT: usize = 4 * MAX_LEN;

impl Email {
    /// A plausible address in canonical form, or `None`. Deliverability is proven by
    /// verification, not here.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        if raw.is_empty() || raw.len() > MAX_INPUT || raw.chars().any(forbidden) {
            return None;
        }
        let normalised: String = raw.nfkc().collect();
        let (local, domain) = normalised.split_once('@')?;
        let local: String = local.to_lowercase().nfkc().collect();
        let domain = idna::domain_to_ascii_strict(domain).ok()?;
        let email = format!("{local}@{domain}");
        let valid = email.len() <= MAX_LEN
            && valid_local(&local)
            && domain.contains('.')
            && !email.chars().any(forbidden);
        valid.then_some(Self(email))
    }

    /// An address read back from the database, where only `parse`d addresses are written.
    pub(crate) fn stored(address: String) -> Self {
        Self(address)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A dot-atom local part of at most 64 octets; no characters that need quoting.
fn valid_local(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local.contains(|c: char| "@<>(),;:\"[]\\".contains(c))
}

/// Characters no address may contain: whitespace, controls and default-ignorable code points
/// (they render as nothing, so two addresses that look the same could differ by them).
fn forbidden(c: char) -> bool {
    c.is_whitespace() || c.is_control() || default_ignorable(c)
}

/// Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt, Unicode 15).
fn default_ignorable(c: char) -> bool {
    const RANGES: &[(u32, u32)] = &[
        (0x00AD, 0x00AD),
        (0x034F, 0x034F),
        (0x061C, 0x061C),
        (0x115F, 0x1160),
        (0x17B4, 0x17B5),
        (0x180B, 0x180F),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x206F),
        (0x3164, 0x3164),
        (0xFE00, 0xFE0F),
        (0xFEFF, 0xFEFF),
        (0xFFA0, 0xFFA0),
        (0xFFF0, 0xFFF8),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0000, 0xE0FFF),
    ];
    let c = u32::from(c);
    RANGES.iter().any(|&(from, to)| (from..=to).contains(&c))
}
