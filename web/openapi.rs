//! The OpenAPI 3.1 document, generated from the handlers' annotations so it cannot drift, and a
//! readable server-rendered docs page built from the same document (no script needed).

use std::sync::LazyLock;

use serde::Serialize;
use serde_json::Value;
use utoipa::OpenApi;
use warp::Filter;
use warp::http::Method;
use warp::reply::Reply;

use super::context::PageSession;
use super::error::ErrorBody;
use super::reply::page;
use super::route::{Table, with_state};
use super::session::page_session;
use super::{accounts, guilds, keys, notifications, ops, services};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Herald API",
        description = "Accounts, API keys, notifications and the Discord dashboard of a Herald \
                       instance. Every error answers with the same JSON body: status, code, \
                       message and detail. The codes are listed in the repository's \
                       docs/errors.md."
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

/// Declares the bearer scheme the `security(("bearer" = []))` annotations refer to.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The whole document: the frame above, and each feature's own part.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = crate::VERSION.to_owned();
    doc.merge(ops::Doc::openapi());
    doc.merge(accounts::openapi());
    doc.merge(keys::openapi());
    doc.merge(services::Doc::openapi());
    doc.merge(notifications::openapi());
    doc.merge(guilds::openapi());
    doc
}

static DOCUMENT: LazyLock<Value> =
    LazyLock::new(|| serde_json::to_value(document()).expect("the document serializes"));

pub fn routes(state: &AppState, table: &mut Table) {
    table.add(
        Method::GET,
        "/api/openapi.json",
        warp::any()
            .map(|| warp::reply::json(&*DOCUMENT).into_response())
            .boxed(),
    );
    table.add(
        Method::GET,
        "/docs",
        with_state(state)
            .and(page_session(state))
            .map(|state: AppState, session: PageSession| {
                page(&state, &session, "pages/docs").render(&DocsPage::from_document(&DOCUMENT))
            })
            .boxed(),
    );
}

#[derive(Serialize)]
struct DocsPage {
    title: String,
    version: String,
    description: String,
    operations: Vec<Operation>,
}

#[derive(Serialize)]
struct Operation {
    method: String,
    path: String,
    summary: String,
    description: String,
    parameters: Vec<Parameter>,
    request_body: Option<String>,
    responses: Vec<(String, String)>,
}

#[derive(Serialize)]
struct Parameter {
    name: String,
    location: String,
    required: bool,
    description: String,
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

impl DocsPage {
    fn from_document(doc: &Value) -> Self {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in METHODS {
                let op = &item[method];
                if op.is_null() {
                    continue;
                }
                operations.push(Operation {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: text(&op["summary"]),
                    description: text(&op["description"]),
                    parameters: op["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| Parameter {
                            name: text(&p["name"]),
                            location: text(&p["in"]),
                            required: p["required"].as_bool().unwrap_or(false),
                            description: text(&p["description"]),
                        })
                        .collect(),
                    request_body: op["requestBody"]["content"]["application/json"]["schema"]
                        .as_object()
                        .map(|schema| schema_name(&Value::Object(schema.clone()))),
                    responses: op["responses"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(code, r)| (code.clone(), text(&r["description"])))
                        .collect(),
                });
            }
        }
        Self {
            title: text(&doc["info"]["title"]),
            version: text(&doc["info"]["version"]),
            description: text(&doc["info"]["description"]),
            operations,
        }
    }
}

/// `#/components/schemas/Login` -> `Login`; an inline schema is shown as JSON.
fn schema_name(schema: &Value) -> String {
    schema["$ref"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_owned)
        .unwrap_or_else(|| schema.to_string())
}
