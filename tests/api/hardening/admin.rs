//! Administration races.

use serde_json::json;

use crate::db_tests;
use crate::helpers::*;

async fn two_admins_blocking_each_other_at_once_leave_one_active(backend: Backend) {
    let app = spawn_app(backend).await;
    for round in 0..4 {
        let (a, b) = (
            format!("a{round}@example.com"),
            format!("b{round}@example.com"),
        );
        let ida = app
            .state
            .accounts()
            .create_admin(&a, "an admin password")
            .await
            .unwrap();
        let idb = app
            .state
            .accounts()
            .create_admin(&b, "an admin password")
            .await
            .unwrap();
        let ta = app.login(&a, "an admin password").await;
        let tb = app.login(&b, "an admin password").await;
        let block = |target: i64, token: Tokens| {
            let app = &app;
            async move {
                let path = format!("/api/v1/users/{target}");
                let access = token.access_token.as_str().to_owned();
                app.send_json(
                    reqwest::Method::PATCH,
                    &path,
                    Some(&json!({"status": "blocked"})),
                    Some(&access),
                )
                .await
            }
        };
        let ((sa, _), (sb, _)) = tokio::join!(block(idb, ta), block(ida, tb));
        let won = [sa, sb].iter().filter(|s| **s == 200).count();
        assert_eq!(won, 1, "round {round}: exactly one wins ({sa}, {sb})");
        let mut active = 0;
        for id in [ida, idb] {
            let user = app.state.accounts().user(id).await.unwrap();
            active += usize::from(user.status == herald::accounts::users::Status::Active);
        }
        assert_eq!(
            active, 1,
            "round {round}: one of them stays an active administrator"
        );
    }
}
db_tests!(two_admins_blocking_each_other_at_once_leave_one_active);
