//! Tests of `herald::web::route`.

use herald::web::route::*;
use http::Method;
use warp::Filter;

/// A route that answers nothing in particular: these tests are about matching.
fn any() -> Route {
    warp::any()
        .map(|| warp::reply::Reply::into_response(""))
        .boxed()
}

#[test]
fn patterns_match_literals_params_and_rests() {
    let mut table = Table::default();
    table.add(Method::GET, "/api/v1/users/{id}", any());
    table.add(Method::PATCH, "/api/v1/users/{id}", any());
    table.add(Method::GET, "/static/{*path}", any());
    table.add(Method::GET, "/", any());
    match table.lookup(&Method::GET, "/api/v1/users/42") {
        Lookup::Found(m) => assert_eq!(m.params.get(0), "42"),
        _ => panic!("no match"),
    }
    match table.lookup(&Method::DELETE, "/api/v1/users/abc") {
        Lookup::WrongMethod(allowed) => assert_eq!(allowed, [Method::GET, Method::PATCH]),
        _ => panic!("expected 405"),
    }
    match table.lookup(&Method::GET, "/static/css/a%20b.css") {
        Lookup::Found(m) => assert_eq!(m.params.get(0), "css/a b.css"),
        _ => panic!("no match"),
    }
    assert!(matches!(table.lookup(&Method::GET, "/"), Lookup::Found(_)));
    for missing in [
        "/api/v1/users",
        "/api/v1/users/1/x",
        "/static",
        "/api/v1/users/",
    ] {
        assert!(
            matches!(table.lookup(&Method::GET, missing), Lookup::NotFound),
            "{missing}"
        );
    }
}

#[test]
fn repeated_query_parameters_keep_the_first() {
    #[derive(serde::Deserialize, Default)]
    struct Q {
        next: Option<String>,
    }
    let q: Q = first_values("next=%2Fa&next=%2Fb&junk=1");
    assert_eq!(q.next.as_deref(), Some("/a"));
}
