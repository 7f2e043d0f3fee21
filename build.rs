//! Marks test builds made with `HERALD_TEST_MYSQL_URL` set, so the MySQL variants of the
//! database tests run there and are reported as ignored elsewhere (never as passed).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(herald_test_mysql)");
    println!("cargo::rerun-if-env-changed=HERALD_TEST_MYSQL_URL");
    let set = std::env::var("HERALD_TEST_MYSQL_URL").is_ok_and(|v| !v.trim().is_empty());
    if set {
        println!("cargo::rustc-cfg=herald_test_mysql");
    }
}
