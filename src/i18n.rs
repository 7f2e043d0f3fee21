//! Texts of pages and e-mails in English and Korean, chosen from the user's locale or the
//! browser's `Accept-Language`. Every key has both languages by construction.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    Ko,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Ko];

    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Ko => "ko",
        }
    }

    /// `ko`, `ko-KR`, `en-US` ...; anything else is not supported.
    pub fn parse(raw: &str) -> Option<Self> {
        let primary = raw.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Locale::En),
            "ko" => Some(Locale::Ko),
            _ => None,
        }
    }

    /// The supported language the browser prefers most (by `q`), English when none is.
    pub fn negotiate(accept_language: Option<&str>) -> Self {
        let Some(header) = accept_language else {
            return Locale::En;
        };
        let mut ranked: Vec<(f32, Locale)> = header
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let locale = Locale::parse(parts.next()?)?;
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                Some((q, locale))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map_or(Locale::En, |(_, l)| *l)
    }
}

/// (key, English, Korean)
const TEXTS: &[(&str, &str, &str)] = &[
    ("nav_docs", "API docs", "API 문서"),
    ("nav_login", "Sign in", "로그인"),
    ("nav_register", "Create account", "회원가입"),
    ("nav_home", "Home", "홈"),
    (
        "home_tagline",
        "A Discord bot for your team, with accounts, API keys and notifications on the web.",
        "팀을 위한 디스코드 봇 — 계정, API 키, 알림을 웹에서 관리하세요.",
    ),
    ("home_bot", "Bot", "봇"),
    ("home_active_before", "Active in", ""),
    ("home_active_one", "server.", "개 서버에서 활동 중입니다."),
    ("home_active_many", "servers.", "개 서버에서 활동 중입니다."),
    ("bot_disabled", "disabled", "꺼짐"),
    ("bot_connecting", "connecting", "연결 중"),
    ("bot_ready", "ready", "준비됨"),
    ("bot_failed", "failed", "실패"),
    (
        "bot_detail_disabled",
        "No bot token is configured.",
        "봇 토큰이 설정되지 않았습니다.",
    ),
    (
        "bot_detail_connecting",
        "Connecting to Discord…",
        "디스코드에 연결하는 중…",
    ),
    (
        "bot_detail_ready",
        "Signed in to Discord as",
        "디스코드에 로그인한 봇:",
    ),
    ("login_or", "or", "또는"),
    ("login_with_before", "Continue with", ""),
    ("login_with_after", "", "로 계속하기"),
    ("back_to_login", "Back to sign-in", "로그인으로 돌아가기"),
    (
        "reset_request_new",
        "Request a new link",
        "새 링크 요청하기",
    ),
    (
        "account_display_name_hint",
        "Shown to others.",
        "다른 사람에게 보이는 이름입니다.",
    ),
    (
        "account_nickname_hint",
        "A short name, e.g. your Discord username.",
        "짧은 이름 (예: 디스코드 사용자 이름).",
    ),
    (
        "not_found_title",
        "Page not found",
        "페이지를 찾을 수 없습니다",
    ),
    ("nav_account", "Account", "내 계정"),
    ("email", "E-mail", "이메일"),
    ("password", "Password", "비밀번호"),
    (
        "password_hint",
        "8 to 1024 characters.",
        "8자 이상 1024자 이하.",
    ),
    ("login_title", "Sign in", "로그인"),
    ("login_submit", "Sign in", "로그인"),
    (
        "login_forgot",
        "Forgot your password?",
        "비밀번호를 잊으셨나요?",
    ),
    (
        "login_no_account",
        "No account yet?",
        "아직 계정이 없으신가요?",
    ),
    ("register_title", "Create an account", "회원가입"),
    ("register_submit", "Create account", "가입하기"),
    (
        "register_have_account",
        "Already have an account?",
        "이미 계정이 있으신가요?",
    ),
    ("forgot_title", "Reset your password", "비밀번호 재설정"),
    (
        "forgot_intro",
        "Enter your e-mail and we will send you a link.",
        "이메일을 입력하시면 재설정 링크를 보내 드립니다.",
    ),
    ("forgot_submit", "Send link", "링크 보내기"),
    (
        "forgot_sent",
        "If an account exists for that address, a link is on its way.",
        "해당 주소의 계정이 있다면 링크를 보냈습니다.",
    ),
    ("reset_title", "Choose a new password", "새 비밀번호 설정"),
    ("reset_submit", "Set password", "비밀번호 설정"),
    (
        "reset_done",
        "Your password has been changed. Sign in with the new one.",
        "비밀번호가 변경되었습니다. 새 비밀번호로 로그인하세요.",
    ),
    ("verify_title", "Verify your e-mail", "이메일 인증"),
    (
        "verify_intro",
        "Confirm that this address is yours.",
        "이 주소가 본인의 것임을 확인해 주세요.",
    ),
    ("verify_submit", "Verify", "인증하기"),
    (
        "verify_done",
        "Your e-mail address is verified.",
        "이메일 주소가 인증되었습니다.",
    ),
    ("account_title", "Your account", "내 계정"),
    ("account_profile", "Profile", "프로필"),
    ("account_display_name", "Display name", "표시 이름"),
    ("account_nickname", "Nickname", "닉네임"),
    ("account_locale", "Language", "언어"),
    ("account_save", "Save", "저장"),
    ("account_saved", "Saved.", "저장되었습니다."),
    ("account_verified", "verified", "인증됨"),
    ("account_unverified", "not verified", "미인증"),
    (
        "account_send_verification",
        "Send verification e-mail",
        "인증 메일 보내기",
    ),
    (
        "account_verification_sent",
        "Verification e-mail sent.",
        "인증 메일을 보냈습니다.",
    ),
    ("account_methods", "Sign-in methods", "로그인 방법"),
    ("account_password_set", "set", "설정됨"),
    ("account_password_unset", "not set", "설정 안 됨"),
    ("account_link", "Link", "연결"),
    ("account_unlink", "Unlink", "연결 해제"),
    ("account_linked", "linked", "연결됨"),
    ("account_not_linked", "not linked", "연결 안 됨"),
    ("account_unlinked", "Unlinked.", "연결을 해제했습니다."),
    ("account_sessions", "Sessions", "세션"),
    ("account_logout", "Sign out", "로그아웃"),
    (
        "account_logout_all",
        "Sign out everywhere",
        "모든 기기에서 로그아웃",
    ),
    ("error_title", "Something went wrong", "문제가 발생했습니다"),
    ("error_code", "Error code", "오류 코드"),
    ("error_back", "Back to sign-in", "로그인으로 돌아가기"),
    (
        "err_4000001",
        "This link is invalid or has already been used.",
        "유효하지 않거나 이미 사용된 링크입니다.",
    ),
    (
        "err_4000002",
        "This link has expired.",
        "만료된 링크입니다.",
    ),
    (
        "err_4000003",
        "This e-mail address is already registered.",
        "이미 가입된 이메일 주소입니다.",
    ),
    (
        "err_4000004",
        "Wrong e-mail or password.",
        "이메일 또는 비밀번호가 올바르지 않습니다.",
    ),
    (
        "err_4000016",
        "The sign-in attempt is invalid or has expired. Please try again.",
        "로그인 요청이 유효하지 않거나 만료되었습니다. 다시 시도해 주세요.",
    ),
    (
        "err_4000019",
        "The e-mail address is not valid.",
        "올바른 이메일 주소가 아닙니다.",
    ),
    (
        "err_4000020",
        "The password must be 8 to 1024 characters long.",
        "비밀번호는 8자 이상 1024자 이하여야 합니다.",
    ),
    (
        "err_4000021",
        "A field has an invalid value.",
        "입력값이 올바르지 않습니다.",
    ),
    (
        "err_4000022",
        "You cannot remove your last way to sign in.",
        "마지막 로그인 방법은 해제할 수 없습니다.",
    ),
    (
        "err_4000023",
        "This provider account is linked to another Herald account.",
        "이 계정은 다른 Herald 계정에 연결되어 있습니다.",
    ),
    (
        "err_4000024",
        "An account with this e-mail already exists. Sign in, then link this provider from your account page.",
        "이 이메일로 가입된 계정이 있습니다. 로그인한 뒤 내 계정 페이지에서 연결해 주세요.",
    ),
    (
        "err_4000025",
        "The sign-in was cancelled.",
        "로그인이 취소되었습니다.",
    ),
    (
        "err_4000026",
        "The sign-in provider did not accept the sign-in.",
        "로그인 제공자가 로그인을 거부했습니다.",
    ),
    (
        "err_4030002",
        "The form has expired; reload the page and try again.",
        "양식이 만료되었습니다. 새로고침 후 다시 시도해 주세요.",
    ),
    (
        "err_4030003",
        "This account is blocked.",
        "차단된 계정입니다.",
    ),
    (
        "err_4290001",
        "Too many requests; try again later.",
        "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.",
    ),
    (
        "err_4290002",
        "Too many failed sign-ins; try again later.",
        "로그인 실패가 너무 많습니다. 잠시 후 다시 시도해 주세요.",
    ),
    (
        "err_5030003",
        "E-mail cannot be sent from this server right now.",
        "지금은 이 서버에서 이메일을 보낼 수 없습니다.",
    ),
    (
        "email_verify_subject",
        "Verify your e-mail for Herald",
        "Herald 이메일 인증",
    ),
    (
        "email_verify_intro",
        "Confirm your e-mail address by opening this link (valid for 24 hours):",
        "아래 링크를 열어 이메일 주소를 인증하세요 (24시간 동안 유효):",
    ),
    (
        "email_reset_subject",
        "Reset your Herald password",
        "Herald 비밀번호 재설정",
    ),
    (
        "email_reset_intro",
        "Someone asked to reset your password. Open this link to choose a new one (valid for one hour):",
        "비밀번호 재설정이 요청되었습니다. 아래 링크에서 새 비밀번호를 설정하세요 (1시간 동안 유효):",
    ),
    (
        "email_new_login_subject",
        "New sign-in method on your Herald account",
        "Herald 계정에 새 로그인 방법이 추가되었습니다",
    ),
    (
        "email_new_login_intro",
        "A new sign-in method was linked to your account:",
        "계정에 새 로그인 방법이 연결되었습니다:",
    ),
    (
        "email_ignore",
        "If this was not you, reset your password and review your account's sign-in methods.",
        "본인이 아니라면 비밀번호를 재설정하고 계정의 로그인 방법을 확인하세요.",
    ),
];

static MAPS: LazyLock<[BTreeMap<&'static str, &'static str>; 2]> = LazyLock::new(|| {
    let map = |pick: fn(&(&'static str, &'static str, &'static str)) -> &'static str| {
        TEXTS.iter().map(|t| (t.0, pick(t))).collect()
    };
    [map(|t| t.1), map(|t| t.2)]
});

fn map(locale: Locale) -> &'static BTreeMap<&'static str, &'static str> {
    &MAPS[match locale {
        Locale::En => 0,
        Locale::Ko => 1,
    }]
}

/// A text, if the key exists.
pub fn lookup(locale: Locale, key: &str) -> Option<String> {
    map(locale).get(key).map(|t| (*t).to_owned())
}

/// One text; an unknown key is a programming error, shown as the key itself.
pub fn text(locale: Locale, key: &str) -> String {
    map(locale).get(key).copied().unwrap_or(key).to_owned()
}

/// Every text of a locale, for templates (`{{t.login_title}}`).
pub fn texts_json(locale: Locale) -> Value {
    serde_json::to_value(map(locale)).expect("a map of strings serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_quality_and_falls_back_to_english() {
        assert_eq!(
            Locale::negotiate(Some("ko-KR,ko;q=0.9,en;q=0.8")),
            Locale::Ko
        );
        assert_eq!(Locale::negotiate(Some("en;q=0.5, ko;q=0.9")), Locale::Ko);
        assert_eq!(Locale::negotiate(Some("fr-FR, de")), Locale::En);
        assert_eq!(Locale::negotiate(None), Locale::En);
    }

    #[test]
    fn keys_are_unique_and_translated() {
        let mut keys: Vec<_> = TEXTS.iter().map(|t| t.0).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), TEXTS.len());
        // Every key is translated, except a few parts of sentences one language leaves empty.
        let partial = [
            "home_active_before",
            "login_with_before",
            "login_with_after",
        ];
        assert!(
            TEXTS
                .iter()
                .all(|t| partial.contains(&t.0) || (!t.1.is_empty() && !t.2.is_empty()))
        );
        assert_eq!(text(Locale::Ko, "login_title"), "로그인");
    }
}
