//! The plain-text side of a STARTTLS dialogue: a TCP stream with a bounded read buffer, read
//! by lines, exact byte counts or until a pattern, so that no protocol file touches the socket
//! directly and nothing a server sends can grow without bound.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{mismatch, refused};
use crate::prober::errno::classify_stream;
use crate::report::{Detail, Failure, FailureClass, Phase, ReplyCode, StepLog};

/// Longest unit (line, packet, XML stanza run, LDAP message) read from a server during an
/// upgrade, as Go's bufio.Scanner default: 64 KiB. A longer one is `protocol_mismatch`.
pub const MAX_UNIT_BYTES: usize = 64 * 1024;

/// Most lines of one multi-line reply (an EHLO answer, a capability list).
pub const MAX_REPLY_LINES: usize = 512;

/// A TCP stream during an upgrade, with what was read but not yet consumed.
pub struct Wire {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    /// Wraps a connected stream.
    pub fn new(stream: TcpStream) -> Wire {
        Wire {
            stream,
            buf: Vec::new(),
        }
    }

    /// The stream, for the TLS handshake. Bytes the server sent after its go-ahead were sent
    /// before our ClientHello, so they cannot be TLS: they are logged and dropped, never read
    /// as if they came over TLS (the command injection of CVE-2011-0411).
    pub fn into_stream(self, log: &mut StepLog) -> TcpStream {
        if !self.buf.is_empty() {
            log.note(format!(
                "STARTTLS: {} bytes the server sent after its go-ahead are discarded",
                self.buf.len()
            ));
        }
        self.stream
    }

    /// The local address, for an SMTP EHLO address literal.
    pub fn local_ip(&self) -> Option<std::net::IpAddr> {
        self.stream.local_addr().ok().map(|a| a.ip())
    }

    /// Writes `bytes` and flushes.
    pub async fn send(&mut self, bytes: &[u8], log: &mut StepLog) -> Result<(), Failure> {
        log.note(format!(
            "STARTTLS: sending {:?}",
            String::from_utf8_lossy(bytes)
        ));
        self.stream
            .write_all(bytes)
            .await
            .map_err(|e| classify_stream(Phase::Query, &e))?;
        self.stream
            .flush()
            .await
            .map_err(|e| classify_stream(Phase::Query, &e))
    }

    /// Reads more bytes into the buffer. EOF is `eof`; a buffer already at
    /// [`MAX_UNIT_BYTES`] is `protocol_mismatch`.
    async fn fill(&mut self, log: &mut StepLog) -> Result<(), Failure> {
        if self.buf.len() >= MAX_UNIT_BYTES {
            log.note(format!(
                "STARTTLS: the server sent {MAX_UNIT_BYTES} bytes without ending a unit"
            ));
            return Err(mismatch(Detail::None));
        }
        let room = MAX_UNIT_BYTES - self.buf.len();
        let mut chunk = vec![0u8; room.min(8192)];
        let n = self
            .stream
            .read(&mut chunk)
            .await
            .map_err(|e| classify_stream(Phase::Query, &e))?;
        if n == 0 {
            log.note("STARTTLS: the server closed the connection");
            return Err(Failure::bare(Phase::Query, FailureClass::Eof));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// One line, without its `\n` or `\r\n`, lossily decoded.
    pub async fn line(&mut self, log: &mut StepLog) -> Result<String, Failure> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                let line = String::from_utf8_lossy(&line).into_owned();
                log.note(format!("STARTTLS: read {line:?}"));
                return Ok(line);
            }
            self.fill(log).await?;
        }
    }

    /// Exactly `n` bytes (`n` at most [`MAX_UNIT_BYTES`]).
    pub async fn exact(&mut self, n: usize, log: &mut StepLog) -> Result<Vec<u8>, Failure> {
        while self.buf.len() < n {
            self.fill(log).await?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Reads until `end(buffer)` finds where a unit ends, consumes the unit (up to that index,
    /// exclusive) and returns it lossily decoded.
    pub async fn until(
        &mut self,
        end: impl Fn(&[u8]) -> Option<usize>,
        log: &mut StepLog,
    ) -> Result<String, Failure> {
        loop {
            if let Some(at) = end(&self.buf) {
                let unit: Vec<u8> = self.buf.drain(..at.min(self.buf.len())).collect();
                let unit = String::from_utf8_lossy(&unit).into_owned();
                log.note(format!("STARTTLS: read {unit:?}"));
                return Ok(unit);
            }
            self.fill(log).await?;
        }
    }

    /// A reply of a protocol with three-digit codes (SMTP, LMTP, FTP, NNTP): lines `CODE-text`
    /// up to the last `CODE text`, at most [`MAX_REPLY_LINES`]. Returns the code and each
    /// line's text. A line that does not start with a code is `protocol_mismatch`.
    pub async fn reply(&mut self, log: &mut StepLog) -> Result<(ReplyCode, Vec<String>), Failure> {
        let mut texts = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            let line = self.line(log).await?;
            let code = ReplyCode::parse(&line).ok_or_else(|| mismatch(Detail::None))?;
            let last = line.as_bytes().get(3) != Some(&b'-');
            texts.push(line.get(4..).unwrap_or("").to_string());
            if last {
                return Ok((code, texts));
            }
        }
        log.note(format!(
            "STARTTLS: a reply of more than {MAX_REPLY_LINES} lines"
        ));
        Err(mismatch(Detail::None))
    }

    /// A reply that must carry `want`, else the upgrade is refused with its code.
    pub async fn expect_code(
        &mut self,
        want: u16,
        log: &mut StepLog,
    ) -> Result<Vec<String>, Failure> {
        let (code, texts) = self.reply(log).await?;
        if code.code() != want {
            return Err(refused(code));
        }
        Ok(texts)
    }

    /// Lines of a dot-terminated multi-line block (POP3 CAPA, NNTP CAPABILITIES), without the
    /// final `.`, at most [`MAX_REPLY_LINES`].
    pub async fn dot_block(&mut self, log: &mut StepLog) -> Result<Vec<String>, Failure> {
        let mut lines = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            let line = self.line(log).await?;
            if line == "." {
                return Ok(lines);
            }
            lines.push(line);
        }
        log.note(format!(
            "STARTTLS: a list of more than {MAX_REPLY_LINES} lines"
        ));
        Err(mismatch(Detail::None))
    }
}
