//! `SmtpMailer` against a real SMTP server that the test starts: a minimal receiver
//! speaking the protocol over TCP (EHLO, MAIL, RCPT, DATA, QUIT). A confirmation email
//! is sent through `AuthService`, received, decoded, and its link opened; with a server
//! that refuses the recipient, or one that is not there, `/recover` and `/otp` answer a
//! known address exactly as an unknown one (the failure is only logged), while the
//! service role's `/invite` answers 500.

mod common;

use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use common::{Engine as Db, Fixture, config};
use easbase_auth::mail::{MailSettings, SmtpConfig, SmtpMailer};
use easbase_auth::{Auth, AuthConfig, AuthService, AuthServiceConfig, RateLimits};
use http::Request;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as the server received it.
#[derive(Debug, Clone)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

/// Starts a receiver on a free port; `refuse_rcpt` answers `550` to every recipient.
async fn smtp_server(refuse_rcpt: bool) -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let store = inbox.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                let mut current =
                    Received { mail_from: String::new(), rcpt_to: Vec::new(), data: String::new() };
                write.write_all(b"220 test.local ESMTP ready\r\n").await.unwrap();
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-test.local\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                    } else if upper.starts_with("HELO")
                        || upper.starts_with("RSET")
                        || upper.starts_with("NOOP")
                    {
                        b"250 OK\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        current.mail_from = line[10..].trim().to_owned();
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        if refuse_rcpt {
                            b"550 5.1.1 no such mailbox\r\n"
                        } else {
                            current.rcpt_to.push(line[8..].trim().to_owned());
                            b"250 OK\r\n"
                        }
                    } else if upper.starts_with("DATA") {
                        write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await.unwrap();
                        let mut data = String::new();
                        loop {
                            line.clear();
                            if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                            // Dot-stuffing (RFC 5321 4.5.2).
                            data.push_str(line.strip_prefix('.').unwrap_or(&line));
                        }
                        current.data = data;
                        store.lock().unwrap().push(current.clone());
                        b"250 OK queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"502 command not implemented\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, inbox)
}

/// The decoded text/plain part of a MIME message.
fn text_part(data: &str) -> String {
    let boundary = data.split("boundary=\"").nth(1).and_then(|b| b.split('"').next()).expect("multipart");
    for part in data.split(&format!("--{boundary}")) {
        let Some((headers, body)) = part.split_once("\r\n\r\n") else { continue };
        if !headers.to_ascii_lowercase().contains("text/plain") {
            continue;
        }
        let lower = headers.to_ascii_lowercase();
        return if lower.contains("quoted-printable") {
            decode_qp(body)
        } else if lower.contains("base64") {
            let compact: String = body.split_whitespace().collect();
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(compact).unwrap()).unwrap()
        } else {
            body.to_owned()
        };
    }
    panic!("no text part in {data}");
}

fn decode_qp(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

async fn service(fx: &Fixture, port: u16, auth_config: AuthConfig, background: bool) -> AuthService {
    let mailer = SmtpMailer::new(SmtpConfig::plain("127.0.0.1", port)).unwrap();
    AuthService::with_config(
        fx.platform.clone(),
        Arc::new(Auth::new(auth_config, None).unwrap()),
        AuthServiceConfig {
            mail: Some(MailSettings::new(Arc::new(mailer), "EasBase Auth <auth@app.test>")),
            send_in_background: background,
            ..AuthServiceConfig::default()
        },
    )
}

async fn post(svc: &AuthService, key: &str, uri: &str, body: Value) -> (u16, Value) {
    let req = Request::post(uri).header("apikey", key).body(Bytes::from(body.to_string())).unwrap();
    let res = svc.handle(req).await;
    (res.status().as_u16(), serde_json::from_slice(res.body()).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_over_smtp() {
    let auth_config = AuthConfig { rate_limits: RateLimits::none(), ..config() };
    let fx = Fixture::new(Db::Sqlite, auth_config.clone()).await;
    let (port, inbox) = smtp_server(false).await;
    let svc = service(&fx, port, auth_config, false).await;
    let (status, body) = post(
        &svc,
        &fx.publishable,
        "/signup",
        json!({ "email": "ada@example.com", "password": "correct horse" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // In the background, the message arrives after the answer.
    let background =
        service(&fx, port, AuthConfig { rate_limits: RateLimits::none(), ..config() }, true).await;
    let (status, _) =
        post(&background, &fx.publishable, "/recover", json!({ "email": "ada@example.com" })).await;
    assert_eq!(status, 200);
    for _ in 0..500 {
        if inbox.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let received = inbox.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "the recovery email arrives");
    assert!(received[1].data.contains("Subject: Reset Your Password"));
    let mail = &received[0];
    assert_eq!(mail.mail_from, "<auth@app.test>");
    assert_eq!(mail.rcpt_to, vec!["<ada@example.com>"]);
    assert!(mail.data.contains("Subject: Confirm Your Email\r\n"), "{}", mail.data);
    assert!(mail.data.contains("To: ada@example.com\r\n"), "{}", mail.data);
    assert!(mail.data.contains("multipart/alternative"), "{}", mail.data);
    assert!(mail.data.contains("text/html"), "{}", mail.data);
    let text = text_part(&mail.data);
    let link = text.split_whitespace().find(|w| w.starts_with("http://")).expect("a link").to_owned();
    let code_at = text.find("code: ").unwrap() + 6;
    let code = &text[code_at..code_at + 6];
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{text}");

    // The emailed link confirms the address (with the page's form, as a browser does).
    let query = link.split_once('?').unwrap().1;
    let req = Request::post("/verify")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(query.to_owned()))
        .unwrap();
    let res = svc.handle(req).await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("http://app.test#access_token="), "{location}");
    fx.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_failures_do_not_tell_known_addresses() {
    let auth_config = AuthConfig { rate_limits: RateLimits::none(), ..config() };
    let fx = Fixture::new(Db::Sqlite, auth_config.clone()).await;
    let (port, inbox) = smtp_server(true).await;
    let svc = service(&fx, port, auth_config.clone(), false).await;
    let unknown = post(&svc, &fx.publishable, "/recover", json!({ "email": "x@example.com" })).await;
    assert_eq!(unknown, (200, json!({})), "an unknown address sends nothing");
    fx.auth.signup("ada@example.com", "correct horse", None).await.unwrap();
    let known = post(&svc, &fx.publishable, "/recover", json!({ "email": "ada@example.com" })).await;
    assert_eq!(known, unknown, "the refused send is not told");
    let (status, _) = post(&svc, &fx.publishable, "/otp", json!({ "email": "ada@example.com" })).await;
    assert_eq!(status, 200);
    let (status, _) =
        post(&svc, &fx.publishable, "/resend", json!({ "type": "signup", "email": "ada@example.com" })).await;
    assert_eq!(status, 200);
    assert!(inbox.lock().unwrap().is_empty());
    // The service role is told.
    let (status, body) = post(&svc, &fx.secret, "/invite", json!({ "email": "new@example.com" })).await;
    assert_eq!((status, body["error_code"].as_str()), (500, Some("unexpected_failure")), "{body}");
    // Sending in the background: the answer does not wait for the mailer either.
    let svc = service(&fx, port, auth_config.clone(), true).await;
    let (status, _) = post(&svc, &fx.publishable, "/recover", json!({ "email": "ada@example.com" })).await;
    assert_eq!(status, 200);

    // Nobody listening.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let svc = service(&fx, closed, auth_config, false).await;
    let known = post(&svc, &fx.publishable, "/otp", json!({ "email": "ada@example.com" })).await;
    let unknown = post(&svc, &fx.publishable, "/otp", json!({ "email": "y@example.com" })).await;
    assert_eq!(known, unknown);
    assert_eq!(known.0, 200);
    fx.cleanup().await;
}
