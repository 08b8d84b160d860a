//! Real TCP peers for the lab, each a listener in the server namespace with one thread per
//! connection: a banner server, an SMTP-like STARTTLS server, peers that close (FIN), reset
//! (RST through SO_LINGER 0, socket(7)), answer plain HTTP, or stay silent, TLS servers, and a
//! peer that answers a ClientHello with a TLS 1.0 ServerHello or with records the test wrote.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::Lab;

/// What a peer does with each connection it accepts.
#[derive(Clone)]
pub enum Peer {
    /// Sends this line at once, then reads until the client closes.
    Banner(String),
    /// Sends this line, then closes cleanly (FIN) and drains what the client sends.
    BannerThenFin(String),
    /// Closes cleanly (FIN) right after accept, then drains.
    Fin,
    /// Waits up to 300 ms for the client's first bytes, then resets (SO_LINGER 0 and close).
    Reset,
    /// Reads the first bytes, answers `HTTP/1.1 400 Bad Request`, closes cleanly.
    Http400,
    /// Accepts and never sends anything; reads until the client closes.
    Silent,
    /// A TLS server; after the handshake it reads until the client closes.
    Tls(Arc<ServerConfig>),
    /// An SMTP-like dialogue (220 banner, EHLO → 250 STARTTLS, STARTTLS → 220, then TLS with
    /// the same dialogue inside).
    Smtp(Arc<ServerConfig>),
    /// Reads the ClientHello record and answers with a ServerHello for TLS 1.0 (0x0301) and
    /// TLS_RSA_WITH_AES_128_CBC_SHA (RFC 2246 §7.4.1.3).
    Tls10ServerHello,
    /// Sends `first`, then `repeat` over and over until the client goes away (a hostile
    /// stream); with `repeat` empty, drains after `first`.
    Stream { first: Vec<u8>, repeat: Vec<u8> },
    /// Reads the ClientHello record and answers with these bytes as they are (TLS records the
    /// test wrote by hand: alerts, oversized or out-of-order records), then drains.
    AfterClientHello(Vec<u8>),
}

/// The `query_response` steps of a module that talks to [`Peer::Smtp`] through STARTTLS, as
/// YAML for a module's `tcp:` map (indented six spaces).
pub const SMTP_STARTTLS_STEPS: &str = r#"      query_response:
        - expect: "^220 "
        - send: "EHLO prober\r"
        - expect: "^250 STARTTLS"
        - send: "STARTTLS\r"
        - expect: "^220 "
        - starttls: true
        - send: "EHLO prober\r"
        - expect: "^250 AUTH"
        - send: "QUIT\r"
        - expect: "^221 "
"#;

/// The SSH banner the banner tests use.
pub const SSH_BANNER: &str = "SSH-2.0-OpenSSH_9.6\r\n";

/// Starts `peer` on `addr` in the server namespace; see [`Lab::serve`].
pub fn serve(lab: &Lab, addr: &str, peer: Peer) {
    serve_in(lab, &lab.server, addr, peer);
}

/// Starts `peer` on `addr` in namespace `ns`; it runs until the lab is dropped.
pub fn serve_in(lab: &Lab, ns: &str, addr: &str, peer: Peer) {
    let owned = addr.to_string();
    let listener = super::netns::in_ns(ns, move || {
        TcpListener::bind(&owned).unwrap_or_else(|e| panic!("failed to listen on {owned}: {e}"))
    });
    listener
        .set_nonblocking(true)
        .expect("failed to make the listener non-blocking");
    let stop = lab.stop.clone();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let peer = peer.clone();
                    std::thread::spawn(move || handle(stream, peer));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
}

/// Runs one connection.
fn handle(mut stream: TcpStream, peer: Peer) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    match peer {
        Peer::Banner(line) => {
            let _ = stream.write_all(line.as_bytes());
            drain(&mut stream);
        }
        Peer::BannerThenFin(line) => {
            let _ = stream.write_all(line.as_bytes());
            let _ = stream.shutdown(Shutdown::Write);
            drain(&mut stream);
        }
        Peer::Fin => {
            let _ = stream.shutdown(Shutdown::Write);
            drain(&mut stream);
        }
        Peer::Reset => {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            // close(2) with a zero linger time sends RST instead of FIN (socket(7), SO_LINGER).
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
        Peer::Http400 => {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\
                  Content-Length: 11\r\nConnection: close\r\n\r\nBad Request",
            );
            let _ = stream.shutdown(Shutdown::Write);
            drain(&mut stream);
        }
        Peer::Silent => drain(&mut stream),
        Peer::Tls(config) => {
            if let Some(mut tls) = tls_accept(stream, config) {
                drain(&mut tls);
            }
        }
        Peer::Smtp(config) => smtp(stream, config),
        Peer::Tls10ServerHello => tls10_server_hello(stream),
        Peer::Stream { first, repeat } => {
            let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
            if stream.write_all(&first).is_ok() && repeat.is_empty() {
                drain(&mut stream);
            }
            while !repeat.is_empty() && stream.write_all(&repeat).is_ok() {}
        }
        Peer::AfterClientHello(bytes) => {
            if read_record(&mut stream) && stream.write_all(&bytes).is_ok() {
                drain(&mut stream);
            }
        }
    }
}

/// Reads until EOF or an error, so the final close sends FIN rather than RST.
fn drain(stream: &mut impl Read) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}

/// Completes a TLS handshake as server; `None` when it fails (the alert is already sent).
fn tls_accept(
    mut stream: TcpStream,
    config: Arc<ServerConfig>,
) -> Option<StreamOwned<ServerConnection, TcpStream>> {
    let mut conn = ServerConnection::new(config).ok()?;
    while conn.is_handshaking() {
        if conn.complete_io(&mut stream).is_err() {
            return None;
        }
    }
    Some(StreamOwned::new(conn, stream))
}

/// One line without its `\r\n`; `None` at EOF or error.
fn read_line(stream: &mut impl Read) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => break,
            Ok(1) => line.push(byte[0]),
            _ => return None,
        }
    }
    Some(
        String::from_utf8_lossy(&line)
            .trim_end_matches('\r')
            .to_string(),
    )
}

/// How an SMTP dialogue ended.
enum SmtpEnd {
    /// The client asked for STARTTLS and was told to go ahead.
    StartTls,
    /// QUIT, EOF or an error.
    Done,
}

/// Runs SMTP-like commands on `s` until QUIT, EOF or (outside TLS) STARTTLS.
fn smtp_dialogue(s: &mut (impl Read + Write), in_tls: bool) -> SmtpEnd {
    while let Some(line) = read_line(s) {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" if in_tls => b"250-lab.test\r\n250 AUTH PLAIN\r\n",
            "EHLO" | "HELO" => b"250-lab.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
            "STARTTLS" if !in_tls => {
                if s.write_all(b"220 2.0.0 ready to start TLS\r\n").is_err() {
                    return SmtpEnd::Done;
                }
                let _ = s.flush();
                return SmtpEnd::StartTls;
            }
            "QUIT" => {
                let _ = s.write_all(b"221 2.0.0 bye\r\n");
                let _ = s.flush();
                return SmtpEnd::Done;
            }
            _ => b"502 5.5.2 command not recognized\r\n",
        };
        if s.write_all(reply).and_then(|_| s.flush()).is_err() {
            return SmtpEnd::Done;
        }
    }
    SmtpEnd::Done
}

/// The SMTP-like STARTTLS peer.
fn smtp(mut stream: TcpStream, config: Arc<ServerConfig>) {
    if stream.write_all(b"220 lab.test ESMTP ready\r\n").is_err() {
        return;
    }
    if let SmtpEnd::StartTls = smtp_dialogue(&mut stream, false) {
        if let Some(mut tls) = tls_accept(stream, config) {
            smtp_dialogue(&mut tls, true);
            tls.conn.send_close_notify();
            let _ = tls.flush();
            let _ = tls.sock.shutdown(Shutdown::Write);
            drain(&mut tls);
        }
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    drain(&mut stream);
}

/// Reads one TLS record (the ClientHello), answers with a TLS 1.0 ServerHello, then drains.
/// Reads one TLS record (RFC 8446 §5.1: 5-byte header, then its length); false on EOF or error.
fn read_record(stream: &mut TcpStream) -> bool {
    let mut header = [0u8; 5];
    if stream.read_exact(&mut header).is_err() {
        return false;
    }
    let mut body = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
    stream.read_exact(&mut body).is_ok()
}

fn tls10_server_hello(mut stream: TcpStream) {
    if !read_record(&mut stream) {
        return;
    }
    // ServerHello body: version, 32-byte random, empty session id, cipher suite, compression.
    let mut hello = vec![0x03, 0x01];
    hello.extend_from_slice(&[0x5a; 32]);
    hello.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00]);
    let mut handshake = vec![0x02, 0x00, 0x00, hello.len() as u8];
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01, 0x00, handshake.len() as u8];
    record.extend_from_slice(&handshake);
    if stream.write_all(&record).is_ok() {
        drain(&mut stream);
    }
}
