//! Marks test builds made with `HERALD_TEST_MYSQL_URL`, `HERALD_TEST_REDIS_URL` or
//! `HERALD_TEST_CHROMEDRIVER` set, so the MySQL, Redis and browser variants of the tests run
//! there and are reported as ignored elsewhere (never as passed).

fn main() {
    for (var, cfg) in [
        ("HERALD_TEST_MYSQL_URL", "herald_test_mysql"),
        ("HERALD_TEST_REDIS_URL", "herald_test_redis"),
        ("HERALD_TEST_CHROMEDRIVER", "herald_test_browser"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={var}");
        if std::env::var(var).is_ok_and(|v| !v.trim().is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
