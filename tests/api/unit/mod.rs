//! Tests of single modules, run in the one test binary (the library is built once, not
//! again in test mode).

mod client_ip;
mod config;
mod cors;
mod crypto;
mod errors;
mod jwt;
mod oauth_profiles;
mod parts;
mod password;
mod rights;
mod route;
mod server;
mod telemetry;
mod when;
