//! A proxy that lies the way broken stores and middleboxes do, each lie a
//! [`Lie`]: the headers stay plausible, so only s3get's own checks can
//! tell. Requests pass untouched (they are signed); responses are parsed
//! head by head (HTTP/1.1 with Content-Length, as Garage answers).

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::wire::{listen, read_head};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lie {
    /// One bit flipped in the middle of every GET response body, as a bad
    /// disk or NIC would: the download's integrity check must catch it.
    FlipBit,
    /// A ranged GET is answered with the bytes of the previous range of
    /// the same length, under the Content-Range that was asked for.
    OtherRange,
    /// A ranged GET's Content-Range names the next range of the same
    /// length (the bytes are the asked range's).
    WrongContentRange,
    /// HEAD reports the object 1 MiB shorter than it is.
    ShortHead,
    /// No stored checksums, and SSE-KMS said, so the ETag is no MD5:
    /// nothing to verify against.
    Opaque,
    /// CompleteMultipartUpload is not forwarded; the answer is 404
    /// NoSuchUpload, as a store gives a retried Complete whose first try
    /// completed (here it never did: the upload stays in progress).
    NoSuchUploadOnComplete,
    /// The first CompleteMultipartUpload reaches the store, its answer is
    /// dropped with the connection: the SDK's retry meets an upload that
    /// is already complete.
    LostCompleteReply,
    /// A ListObjectsV2 body cut in half (its Content-Length to match).
    CutListing,
    /// Every ListObjectsV2 page says more follows, without a token.
    TruncatedWithoutToken,
    /// Every ListObjectsV2 page says more follows at the same token.
    RepeatedToken,
    /// AbortMultipartUpload is not forwarded; the answer is 404
    /// NoSuchUpload (the upload was listed, then completed meanwhile).
    NoSuchUploadOnAbort,
    /// GETs are forwarded and never answered (a store that accepts a
    /// request and hangs).
    SilentGet,
    /// PUTs (PutObject, UploadPart) are read whole, never forwarded and
    /// never answered: a store that takes a part and hangs.
    SilentPut,
}

pub struct Liar {
    pub endpoint: String,
    _runtime: tokio::runtime::Runtime,
}

impl Liar {
    pub fn start(upstream: &str, lie: Lie) -> Liar {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let previous = Previous::default();
        let (runtime, endpoint) = listen(move |client| {
            let (upstream, previous) = (upstream.clone(), previous.clone());
            async move {
                let _ = serve(client, &upstream, lie, &previous).await;
            }
        });
        Liar {
            endpoint,
            _runtime: runtime,
        }
    }
}

fn header<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    let prefix = format!("{name}:");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(str::trim)
}

fn set(lines: &mut [String], name: &str, value: &str) {
    let prefix = format!("{name}:");
    for l in lines.iter_mut().filter(|l| l.starts_with(&prefix)) {
        *l = format!("{name}: {value}");
    }
}

fn raw(lines: &[String]) -> Vec<u8> {
    let mut out = lines.join("\r\n");
    out.push_str("\r\n\r\n");
    out.into_bytes()
}

/// What a request asked, for its response: its method, and the answer
/// when the proxy gives it itself.
struct Asked {
    method: String,
    local: Option<Vec<u8>>,
    drop_reply: bool,
    /// A ListObjectsV2 request.
    listing: bool,
}

/// A ListObjectsV2 page as the lie has it.
fn rewrite_listing(body: Vec<u8>, lie: Lie) -> Vec<u8> {
    let text = String::from_utf8(body).unwrap();
    let cut_token = |t: &str| match (
        t.find("<NextContinuationToken>"),
        t.find("</NextContinuationToken>"),
    ) {
        (Some(a), Some(b)) => format!("{}{}", &t[..a], &t[b + "</NextContinuationToken>".len()..]),
        _ => t.to_string(),
    };
    let truncated = |t: &str, token: &str| {
        cut_token(t).replace(
            "<IsTruncated>false</IsTruncated>",
            &format!("<IsTruncated>true</IsTruncated>{token}"),
        )
    };
    match lie {
        Lie::CutListing => text.as_bytes()[..text.len() / 2].to_vec(),
        Lie::TruncatedWithoutToken => truncated(&text, "").into_bytes(),
        Lie::RepeatedToken => {
            truncated(&text, "<NextContinuationToken>loop</NextContinuationToken>").into_bytes()
        }
        _ => text.into_bytes(),
    }
}

/// Whether [`Lie::LostCompleteReply`] has dropped its one answer (one
/// such proxy per test process).
static LOST: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What a store answers a Complete for an upload it does not know.
const NO_SUCH_UPLOAD: &str = "HTTP/1.1 404 Not Found\r\ncontent-type: application/xml\r\ncontent-length: 112\r\n\r\n\
<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchUpload</Code><Message>no such upload</Message></Error>\n";

/// A response head as sent back.
fn rewrite_response(mut lines: Vec<String>, asked: &Asked, lie: Lie) -> Vec<String> {
    match lie {
        Lie::WrongContentRange => {
            if let Some(range) = header(&lines, "content-range").map(String::from) {
                let (span, total) = range.trim_start_matches("bytes ").split_once('/').unwrap();
                let (a, b) = span.split_once('-').unwrap();
                let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
                let len = b - a + 1;
                set(
                    &mut lines,
                    "content-range",
                    &format!("bytes {}-{}/{total}", a + len, b + len),
                );
            }
        }
        Lie::ShortHead if asked.method == "HEAD" => {
            let cut = 1u64 << 20;
            match header(&lines, "content-range").map(String::from) {
                Some(range) => {
                    let (head, total) = range.rsplit_once('/').unwrap();
                    let total: u64 = total.parse().unwrap();
                    set(
                        &mut lines,
                        "content-range",
                        &format!("{head}/{}", total - cut),
                    );
                }
                None => {
                    let len: u64 = header(&lines, "content-length")
                        .unwrap_or("0")
                        .parse()
                        .unwrap();
                    set(
                        &mut lines,
                        "content-length",
                        &(len.saturating_sub(cut)).to_string(),
                    );
                }
            }
        }
        Lie::Opaque if asked.method == "HEAD" => {
            lines.retain(|l| !l.starts_with("x-amz-checksum-"));
            lines.push("x-amz-server-side-encryption: aws:kms".into());
        }
        _ => {}
    }
    lines
}

/// The body of the last ranged GET, for [`Lie::OtherRange`] to answer the
/// next one of the same length with (and the last listing page, whole, for
/// [`Lie::RepeatedToken`]).
type Previous = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

fn swap(previous: &Previous, body: Vec<u8>) -> Vec<u8> {
    let mut last = previous.lock().unwrap();
    if last.len() == body.len() {
        std::mem::replace(&mut *last, body)
    } else {
        *last = body.clone();
        body
    }
}

async fn serve(
    client: TcpStream,
    upstream: &str,
    lie: Lie,
    previous: &Previous,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let (cr, mut cw) = client.into_split();
    let (sr, mut sw) = server.into_split();
    let (asked_tx, mut asked_rx) = mpsc::unbounded_channel::<Asked>();
    let requests = async {
        let mut cr = BufReader::new(cr);
        while let Some((head, lines, length)) = read_head(&mut cr).await? {
            let method = lines[0].split(' ').next().unwrap_or_default().to_string();
            let completing = method == "POST" && lines[0].contains("uploadId=");
            let aborting = method == "DELETE" && lines[0].contains("uploadId=");
            if (lie == Lie::NoSuchUploadOnComplete && completing)
                || (lie == Lie::NoSuchUploadOnAbort && aborting)
            {
                tokio::io::copy(&mut (&mut cr).take(length), &mut tokio::io::sink()).await?;
                let _ = asked_tx.send(Asked {
                    method,
                    local: Some(NO_SUCH_UPLOAD.as_bytes().to_vec()),
                    drop_reply: false,
                    listing: false,
                });
                continue;
            }
            if lie == Lie::SilentPut && method == "PUT" {
                tokio::io::copy(&mut (&mut cr).take(length), &mut tokio::io::sink()).await?;
                let _ = asked_tx.send(Asked {
                    method,
                    local: None,
                    drop_reply: false,
                    listing: false,
                });
                continue;
            }
            let drop_reply = lie == Lie::LostCompleteReply
                && completing
                && !LOST.swap(true, std::sync::atomic::Ordering::SeqCst);
            let listing = method == "GET" && lines[0].contains("list-type=2");
            // The store refuses a token it never gave: the page that gave
            // it is given again, as a store that loops would.
            if lie == Lie::RepeatedToken && lines[0].contains("continuation-token=loop") {
                let page = previous.lock().unwrap().clone();
                let _ = asked_tx.send(Asked {
                    method,
                    local: Some(page),
                    drop_reply: false,
                    listing,
                });
                continue;
            }
            let _ = asked_tx.send(Asked {
                method,
                local: None,
                drop_reply,
                listing,
            });
            sw.write_all(&head).await?;
            tokio::io::copy(&mut (&mut cr).take(length), &mut sw).await?;
        }
        drop(asked_tx);
        sw.shutdown().await
    };
    let responses = async {
        let mut sr = BufReader::new(sr);
        while let Some(asked) = asked_rx.recv().await {
            if let Some(answer) = asked.local {
                cw.write_all(&answer).await?;
                continue;
            }
            if (lie == Lie::SilentGet && asked.method == "GET")
                || (lie == Lie::SilentPut && asked.method == "PUT")
            {
                return std::future::pending().await;
            }
            loop {
                let Some((_, lines, length)) = read_head(&mut sr).await? else {
                    return cw.shutdown().await;
                };
                let status: u16 = lines[0]
                    .split(' ')
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0);
                // The body's length is upstream's, whatever the head now says.
                let length =
                    if asked.method == "HEAD" || status == 204 || status == 304 || status < 200 {
                        0
                    } else {
                        length
                    };
                if asked.drop_reply {
                    tokio::io::copy(&mut (&mut sr).take(length), &mut tokio::io::sink()).await?;
                    return cw.shutdown().await;
                }
                let ranged = status == 206;
                let mut lines = rewrite_response(lines, &asked, lie);
                let mut body = vec![0u8; length as usize];
                sr.read_exact(&mut body).await?;
                if lie == Lie::OtherRange && ranged {
                    body = swap(previous, body);
                }
                if lie == Lie::FlipBit && asked.method == "GET" && status < 300 && !body.is_empty()
                {
                    let middle = body.len() / 2;
                    body[middle] ^= 0x01;
                }
                if asked.listing && status == 200 {
                    body = rewrite_listing(body, lie);
                    set(&mut lines, "content-length", &body.len().to_string());
                    if lie == Lie::RepeatedToken {
                        *previous.lock().unwrap() = [raw(&lines), body.clone()].concat();
                    }
                }
                cw.write_all(&raw(&lines)).await?;
                cw.write_all(&body).await?;
                if status >= 200 {
                    break;
                }
            }
        }
        cw.shutdown().await
    };
    let (a, b) = tokio::join!(requests, responses);
    a.and(b)
}
