//! The limits of the account flows. Each counts before the work it guards (see
//! `crate::limits`); the sign-in lock counts per account and source, so a stranger can lock out
//! only their own address, with an account-wide ceiling on top that a browser the owner has
//! signed in from before passes.

use crate::limits::Limit;

/// Sign-in attempts per client address (IPv6 by /64).
pub const LOGIN_IP: Limit = Limit::new("login-ip", 30, 600);
/// Failed sign-ins per account and client address: the usual lock.
pub const LOGIN_SOURCE: Limit = Limit::new("login-failures", 5, 900);
/// Failed sign-ins per account from everywhere: a distributed guesser's ceiling. Browsers with
/// the account's device cookie are not held by it.
pub const LOGIN_ACCOUNT: Limit = Limit::new("login-failures-account", 50, 900);
pub const REGISTER_IP: Limit = Limit::new("register-ip", 10, 3600);
/// Verification and reset e-mails per client address; per recipient and client address; and
/// per recipient from everywhere (a cap on mail bombing).
pub const EMAIL_IP: Limit = Limit::new("email-ip", 10, 3600);
pub const EMAIL_ADDRESS: Limit = Limit::new("email-address", 3, 3600);
pub const EMAIL_RECIPIENT: Limit = Limit::new("email-recipient", 10, 3600);
/// Password resets tried per client address (valid token or not).
pub const RESET_IP: Limit = Limit::new("reset-ip", 20, 600);
