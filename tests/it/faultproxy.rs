//! A small HTTP proxy on loopback that sits between flowlake and the S3
//! server, logs every request, and fails some of them on purpose: 500 and
//! 503 answers, connections dropped before answering, and bodies cut off
//! half way. One connection per request (`Connection: close` both ways).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// What to do with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward it.
    Pass,
    /// Answer `503 Slow Down`.
    SlowDown,
    /// Answer `500 Internal Error`.
    Internal,
    /// Close the connection without answering.
    Drop,
    /// Forward it, but cut the response body off half way.
    Truncate,
}

/// One request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// `GET`, `PUT`, …
    pub method: String,
    /// Path and query.
    pub path: String,
    /// How many times this same request (method, path, range) was seen before.
    pub attempt: u32,
    /// What the proxy did.
    pub fault: Fault,
}

type Policy = dyn Fn(&str, &str, u32) -> Fault + Send + Sync;

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://host:port`); `policy(method, path, attempt)` picks the fault.
    pub fn start(upstream: &str, policy: impl Fn(&str, &str, u32) -> Fault + Send + Sync + 'static) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let policy: Arc<Policy> = Arc::new(policy);
        let attempts: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        {
            let (log, stop) = (log.clone(), stop.clone());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (log, policy, attempts, upstream) =
                        (log.clone(), policy.clone(), attempts.clone(), upstream.clone());
                    thread::spawn(move || {
                        let _ = handle(conn, &upstream, &*policy, &attempts, &log);
                    });
                }
            });
        }
        FaultProxy { url: format!("http://127.0.0.1:{port}"), log, stop, port }
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_head(r: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" {
            return Ok(Some(head));
        }
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Replaces any `Connection` header with `Connection: close`.
fn close_head(head: &str) -> String {
    let mut out: Vec<&str> =
        head.trim_end().lines().filter(|l| !l.to_ascii_lowercase().starts_with("connection:")).collect();
    out.push("Connection: close");
    out.join("\r\n") + "\r\n\r\n"
}

fn error_response(status: &str, code: &str) -> String {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error>"
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn handle(
    client: TcpStream,
    upstream: &str,
    policy: &Policy,
    attempts: &Mutex<HashMap<String, u32>>,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    let Some(head) = read_head(&mut reader)? else { return Ok(()) };
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut first = head.lines().next().unwrap_or("").split(' ');
    let (method, path) = (first.next().unwrap_or("").to_string(), first.next().unwrap_or("").to_string());
    let len: usize = header(&head, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let range = header(&head, "range").map(str::to_string);
    let key = format!("{method} {path} {range:?}");
    let attempt = {
        let mut a = attempts.lock().unwrap();
        let n = a.entry(key).or_insert(0);
        *n += 1;
        *n - 1
    };
    let fault = policy(&method, &path, attempt);
    log.lock().unwrap().push(Seen { method: method.clone(), path: path.clone(), attempt, fault });
    match fault {
        Fault::SlowDown => return client.write_all(error_response("503 Slow Down", "SlowDown").as_bytes()),
        Fault::Internal => {
            return client.write_all(error_response("500 Internal Server Error", "InternalError").as_bytes());
        }
        Fault::Drop => return Ok(()),
        Fault::Pass | Fault::Truncate => {}
    }
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(close_head(&head).as_bytes())?;
    up.write_all(&body)?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4).unwrap_or(resp.len());
    let resp_head = close_head(&String::from_utf8_lossy(&resp[..split]));
    client.write_all(resp_head.as_bytes())?;
    let body = &resp[split..];
    if fault == Fault::Truncate {
        client.write_all(&body[..body.len() / 2])?;
    } else {
        client.write_all(body)?;
    }
    client.flush()
}
