//! The byte watch under HTTP/1.1: the first bytes a client sends on an idle keep-alive
//! connection start the header-read timeout of the request they begin, so an idle connection
//! is held to the (long) idle timeout and a request in progress to the (short) header-read
//! timeout. hyper's own header-read timeout cannot tell the two apart: it starts as soon as
//! hyper waits for the next head, which is right after the previous answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::guard::Slot;

/// A stream that tells its connection's [`Slot`] when request bytes arrive.
#[derive(Debug)]
pub struct HeadWatch<T> {
    inner: T,
    slot: Arc<Slot>,
}

impl<T> HeadWatch<T> {
    /// Watches reads from `inner` for `slot`.
    pub fn new(inner: T, slot: Arc<Slot>) -> HeadWatch<T> {
        HeadWatch { inner, slot }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for HeadWatch<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.slot.head_bytes();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HeadWatch<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
