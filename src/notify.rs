//! One HTTP(S) POST with a hard deadline: the job's healthchecks-style
//! pings (`NOTIFY_URL`) and its Pushgateway push, sent by `s3pipe post`.
//!
//! Why in the binary: bash's `/dev/tcp` has no TLS and its `read` no
//! timeout, so a gateway that accepted and never answered hung a finished
//! backup, and healthchecks.io or a Pushgateway behind TLS could not be
//! reached at all. This uses the HTTP stack the SDK already links (hyper,
//! rustls with aws-lc), so it adds no TLS library. The whole exchange —
//! connect, TLS, request, the response's status — must end within the
//! deadline. `https://user:password@host/…` sends basic authentication;
//! error messages never show the password.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// What to send where.
#[derive(Debug, Clone)]
pub struct Post {
    pub url: String,
    pub body: Vec<u8>,
    pub content_type: String,
    /// The whole exchange's deadline.
    pub timeout: Duration,
    /// Trust only these CA certificates (PEM), else the system's roots
    /// (which honour `SSL_CERT_FILE`).
    pub ca_bundle: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum NotifyError {
    #[error("{0}: not an http:// or https:// URL")]
    Url(String),
    #[error("--ca-bundle {path}: {why}")]
    CaBundle { path: PathBuf, why: String },
    #[error("{url}: no answer within {seconds}s")]
    Timeout { url: String, seconds: u64 },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {why}")]
    Request { url: String, why: String },
}

/// POST `post.body` to `post.url`; Ok(status) for a 2xx answer.
pub(crate) fn send(post: &Post) -> Result<u16, NotifyError> {
    let (uri, auth, shown) = split_userinfo(&post.url)?;
    let roots = roots(post.ca_bundle.as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| request_error(&shown, e))?;
    let exchange = exchange(post, uri, auth, roots, &shown);
    let seconds = post.timeout.as_secs().max(1);
    runtime.block_on(async {
        match tokio::time::timeout(post.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(NotifyError::Timeout {
                url: shown.clone(),
                seconds,
            }),
        }
    })
}

async fn exchange(
    post: &Post,
    uri: String,
    auth: Option<String>,
    roots: rustls::RootCertStore,
    shown: &str,
) -> Result<u16, NotifyError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| request_error(shown, e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let mut request = hyper::Request::post(uri)
        .header(hyper::header::CONTENT_TYPE, &post.content_type)
        .header(
            hyper::header::USER_AGENT,
            concat!("s3pipe/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(auth) = auth {
        request = request.header(hyper::header::AUTHORIZATION, auth);
    }
    let request = request
        .body(Full::new(Bytes::from(post.body.clone())))
        .map_err(|e| request_error(shown, e))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| request_error(shown, e))?;
    let status = response.status().as_u16();
    // Read the (small) answer so the connection closes cleanly.
    let _ = response.into_body().collect().await;
    match (200..300).contains(&status) {
        true => Ok(status),
        false => Err(NotifyError::Status {
            url: shown.to_string(),
            status,
        }),
    }
}

/// The error's whole chain on one line (hyper's top error says only
/// "client error (Connect)").
fn request_error(url: &str, e: impl std::error::Error) -> NotifyError {
    let mut why = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        why = format!("{why}: {s}");
        source = s.source();
    }
    NotifyError::Request {
        url: url.to_string(),
        why,
    }
}

/// The URL without its `user:password@` (hyper refuses userinfo), the
/// basic-authentication header it stands for, and the URL as messages
/// show it (the password replaced by `***`).
fn split_userinfo(url: &str) -> Result<(String, Option<String>, String), NotifyError> {
    let bad = || NotifyError::Url(url.to_string());
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return Ok((url.to_string(), None, url.to_string()));
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let credentials = format!("{}:{}", decode(user), decode(password));
    use base64::Engine;
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    );
    let plain = format!("{scheme}://{host}{path}");
    let shown = format!("{scheme}://{user}:***@{host}{path}");
    Ok((plain, Some(header), shown))
}

/// The CA certificates in `bundle`, else the system's.
fn roots(bundle: Option<&Path>) -> Result<rustls::RootCertStore, NotifyError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let Some(path) = bundle else {
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        return Ok(roots);
    };
    let fail = |why: String| NotifyError::CaBundle {
        path: path.to_path_buf(),
        why,
    };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.map_err(|e| fail(format!("not PEM: {e}")))?)
            .map_err(|e| fail(e.to_string()))?;
    }
    match roots.is_empty() {
        true => Err(fail("no certificate in it".into())),
        false => Ok(roots),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_becomes_basic_auth_and_never_shows_the_password() {
        let (plain, auth, shown) =
            split_userinfo("https://ops:s%40cret@gw.example:9091/metrics/job/x").unwrap();
        assert_eq!(plain, "https://gw.example:9091/metrics/job/x");
        // base64("ops:s@cret")
        assert_eq!(auth.as_deref(), Some("Basic b3BzOnNAY3JldA=="));
        assert_eq!(shown, "https://ops:***@gw.example:9091/metrics/job/x");
        let (plain, auth, _) = split_userinfo("http://hc.example/ping/uuid").unwrap();
        assert_eq!(
            (plain.as_str(), auth),
            ("http://hc.example/ping/uuid", None)
        );
        for bad in ["ftp://x/", "hc.example/ping"] {
            assert!(
                matches!(split_userinfo(bad), Err(NotifyError::Url(_))),
                "{bad}"
            );
        }
    }
}
