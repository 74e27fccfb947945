//! Message templates: GoTrue's (Supabase Auth's) template variables
//! (`{{ .ConfirmationURL }}`, `{{ .Token }}`, `{{ .TokenHash }}`, `{{ .SiteURL }}`,
//! `{{ .Email }}`, `{{ .NewEmail }}`, `{{ .RedirectTo }}`) substituted into a subject, an
//! HTML body (values HTML-escaped) and a text body, per project.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use easbase_core::context::ProjectId;

/// What an email is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EmailKind {
    /// Confirming the address after sign-up (`type=signup`).
    Confirmation,
    /// An invitation from an administrator (`type=invite`).
    Invite,
    /// A magic link and one-time code for an existing user (`type=magiclink`).
    MagicLink,
    /// Resetting a forgotten password (`type=recovery`).
    Recovery,
    /// Confirming a new address (`type=email_change`).
    EmailChange,
    /// A code confirming a signed-in user (`GET /reauthenticate`; no link).
    Reauthentication,
}

impl EmailKind {
    /// The `type` of the verification link (`signup`, `invite`, `magiclink`, …).
    pub fn verify_type(self) -> &'static str {
        match self {
            EmailKind::Confirmation => "signup",
            EmailKind::Invite => "invite",
            EmailKind::MagicLink => "magiclink",
            EmailKind::Recovery => "recovery",
            EmailKind::EmailChange => "email_change",
            EmailKind::Reauthentication => "reauthentication",
        }
    }
}

/// One template: subject, HTML body and text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTemplate {
    /// The subject line.
    pub subject: String,
    /// The HTML body (substituted values are HTML-escaped).
    pub html: String,
    /// The plain-text body.
    pub text: String,
}

impl EmailTemplate {
    fn new(subject: &str, html: &str, text: &str) -> EmailTemplate {
        EmailTemplate { subject: subject.into(), html: html.into(), text: text.into() }
    }

    /// The template with `data` substituted: `(subject, html, text)`.
    ///
    /// ```
    /// use easbase_auth::mail::{EmailTemplate, TemplateData};
    /// let t = EmailTemplate {
    ///     subject: "Code {{ .Token }}".into(),
    ///     html: "<a href=\"{{ .ConfirmationURL }}\">go</a>".into(),
    ///     text: "{{.ConfirmationURL}} {{ .Unknown }}".into(),
    /// };
    /// let data = TemplateData {
    ///     confirmation_url: "https://x.test/v?a=1&b=2".into(),
    ///     token: "123456".into(),
    ///     ..TemplateData::default()
    /// };
    /// let (subject, html, text) = t.render(&data);
    /// assert_eq!(subject, "Code 123456");
    /// assert_eq!(html, "<a href=\"https://x.test/v?a=1&amp;b=2\">go</a>");
    /// assert_eq!(text, "https://x.test/v?a=1&b=2 {{ .Unknown }}");
    /// ```
    pub fn render(&self, data: &TemplateData) -> (String, String, String) {
        (
            substitute(&self.subject, data, false),
            substitute(&self.html, data, true),
            substitute(&self.text, data, false),
        )
    }
}

/// The values a template may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateData {
    /// `{{ .ConfirmationURL }}`: the verification link.
    pub confirmation_url: String,
    /// `{{ .Token }}`: the one-time code to type in.
    pub token: String,
    /// `{{ .TokenHash }}`: the link token (for `verifyOtp({ token_hash })`).
    pub token_hash: String,
    /// `{{ .SiteURL }}`: the project's site URL.
    pub site_url: String,
    /// `{{ .Email }}`: the recipient's (current) address.
    pub email: String,
    /// `{{ .NewEmail }}`: the new address of an email change.
    pub new_email: String,
    /// `{{ .RedirectTo }}`: where the link leads after verification.
    pub redirect_to: String,
}

impl TemplateData {
    fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "ConfirmationURL" => &self.confirmation_url,
            "Token" => &self.token,
            "TokenHash" => &self.token_hash,
            "SiteURL" => &self.site_url,
            "Email" => &self.email,
            "NewEmail" => &self.new_email,
            "RedirectTo" => &self.redirect_to,
            _ => return None,
        })
    }
}

/// Replaces `{{ .Name }}` (spaces optional) with the value of `Name`; unknown names stay.
fn substitute(template: &str, data: &TemplateData, html: bool) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        match name.strip_prefix('.').and_then(|n| data.get(n.trim())) {
            Some(value) if html => out.push_str(&crate::routes::html_escape(value)),
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A project's templates, one per [`EmailKind`], and the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTemplates {
    /// The sender of this project's messages (`None`: [`MailSettings::from`](super::MailSettings::from)).
    pub sender: Option<String>,
    /// Sign-up confirmation.
    pub confirmation: EmailTemplate,
    /// Invitation.
    pub invite: EmailTemplate,
    /// Magic link and one-time code.
    pub magic_link: EmailTemplate,
    /// Password recovery.
    pub recovery: EmailTemplate,
    /// Email change.
    pub email_change: EmailTemplate,
    /// Reauthentication (a code only).
    pub reauthentication: EmailTemplate,
}

impl EmailTemplates {
    /// The template of `kind`.
    pub fn get(&self, kind: EmailKind) -> &EmailTemplate {
        match kind {
            EmailKind::Confirmation => &self.confirmation,
            EmailKind::Invite => &self.invite,
            EmailKind::MagicLink => &self.magic_link,
            EmailKind::Recovery => &self.recovery,
            EmailKind::EmailChange => &self.email_change,
            EmailKind::Reauthentication => &self.reauthentication,
        }
    }
}

impl Default for EmailTemplates {
    /// GoTrue's default subjects and bodies, with the code added to each.
    fn default() -> EmailTemplates {
        EmailTemplates {
            sender: None,
            confirmation: EmailTemplate::new(
                "Confirm Your Email",
                "<h2>Confirm your email</h2><p>Follow this link to confirm your email:</p>\
                 <p><a href=\"{{ .ConfirmationURL }}\">Confirm your email address</a></p>\
                 <p>Or enter this code: {{ .Token }}</p>",
                "Confirm your email\n\nFollow this link to confirm your email:\n{{ .ConfirmationURL }}\n\n\
                 Or enter this code: {{ .Token }}\n",
            ),
            invite: EmailTemplate::new(
                "You have been invited",
                "<h2>You have been invited</h2><p>You have been invited to create a user on \
                 {{ .SiteURL }}. Follow this link to accept the invite:</p>\
                 <p><a href=\"{{ .ConfirmationURL }}\">Accept the invite</a></p>\
                 <p>Or enter this code: {{ .Token }}</p>",
                "You have been invited\n\nYou have been invited to create a user on {{ .SiteURL }}. \
                 Follow this link to accept the invite:\n{{ .ConfirmationURL }}\n\n\
                 Or enter this code: {{ .Token }}\n",
            ),
            magic_link: EmailTemplate::new(
                "Your Magic Link",
                "<h2>Magic Link</h2><p>Follow this link to login:</p>\
                 <p><a href=\"{{ .ConfirmationURL }}\">Log In</a></p>\
                 <p>Or enter this code: {{ .Token }}</p>",
                "Magic Link\n\nFollow this link to login:\n{{ .ConfirmationURL }}\n\n\
                 Or enter this code: {{ .Token }}\n",
            ),
            recovery: EmailTemplate::new(
                "Reset Your Password",
                "<h2>Reset Password</h2><p>Follow this link to reset the password for your user:</p>\
                 <p><a href=\"{{ .ConfirmationURL }}\">Reset Password</a></p>\
                 <p>Or enter this code: {{ .Token }}</p>",
                "Reset Password\n\nFollow this link to reset the password for your user:\n\
                 {{ .ConfirmationURL }}\n\nOr enter this code: {{ .Token }}\n",
            ),
            email_change: EmailTemplate::new(
                "Confirm Email Change",
                "<h2>Confirm Change of Email</h2><p>Follow this link to confirm the update of your \
                 email from {{ .Email }} to {{ .NewEmail }}:</p>\
                 <p><a href=\"{{ .ConfirmationURL }}\">Change Email</a></p>\
                 <p>Or enter this code: {{ .Token }}</p>",
                "Confirm Change of Email\n\nFollow this link to confirm the update of your email from \
                 {{ .Email }} to {{ .NewEmail }}:\n{{ .ConfirmationURL }}\n\n\
                 Or enter this code: {{ .Token }}\n",
            ),
            reauthentication: EmailTemplate::new(
                "Confirm reauthentication",
                "<h2>Confirm reauthentication</h2><p>Enter the code: {{ .Token }}</p>",
                "Confirm reauthentication\n\nEnter the code: {{ .Token }}\n",
            ),
        }
    }
}

/// The templates of every project: GoTrue's defaults, or what [`TemplateStore::set`]
/// gave a project. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct TemplateStore {
    default: Arc<EmailTemplates>,
    projects: Arc<RwLock<HashMap<ProjectId, Arc<EmailTemplates>>>>,
}

impl TemplateStore {
    /// A store whose projects use `default` unless set.
    pub fn with_default(default: EmailTemplates) -> TemplateStore {
        TemplateStore { default: Arc::new(default), projects: Arc::default() }
    }

    /// Sets the templates of `project`.
    pub fn set(&self, project: ProjectId, templates: EmailTemplates) {
        self.projects.write().unwrap_or_else(PoisonError::into_inner).insert(project, Arc::new(templates));
    }

    /// Returns `project` to the default templates.
    pub fn reset(&self, project: &ProjectId) {
        self.projects.write().unwrap_or_else(PoisonError::into_inner).remove(project);
    }

    /// The templates of `project`.
    pub fn get(&self, project: &ProjectId) -> Arc<EmailTemplates> {
        self.projects
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(project)
            .cloned()
            .unwrap_or_else(|| self.default.clone())
    }
}
