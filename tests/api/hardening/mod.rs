//! The attacks an outside review ran against the accounts code, each as a test named after
//! it: they fail on the code as it was and pass now, on SQLite and (with the URL) on MariaDB.

mod admin;
mod identity;
mod mail;
mod pages;
mod sessions;
mod sign_in;
mod transport;
