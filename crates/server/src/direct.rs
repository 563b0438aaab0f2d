//! Replies that the `--sync always` writer thread writes to the client itself.
//!
//! Why: before this, each group's replies travelled back from the writer
//! thread to the session threads, and every reply woke its session's task
//! there, which then wrote it. At `-P 1` that hand-back cost a wake-up and a
//! context switch per group on top of Redis's loop (docs/BENCHMARKS.md,
//! "Ninth pass": 0.6–0.7 switches per SET against Redis's 0.15), and delayed
//! each reply, so fewer requests were waiting when the next fsync began.
//!
//! Now, when a client's last buffered request is a write on its own and
//! nothing is waiting to be written before its reply, the session lends the
//! writer a duplicate of its socket's descriptor ([`Delivery`]). Right after
//! the group's fsync the writer encodes the reply and writes it with one
//! non-blocking `write`; the session thread is woken only by the client's
//! next request, as Redis's loop is.
//!
//! Only single writes: the writer's `write`s delay its next fsync, and a
//! pipeline already shares one wake-up among all its commands. Lending
//! pipelines of 16 cost a sixth of `always` SET `-P 16`, while lending single
//! writes raised `-P 1` and left `-P 16` as it was ("Eleventh pass").
//!
//! Order on the wire: while a reply is out on loan the session writes
//! nothing and handles no request; it waits for the client's next bytes and
//! then for [`Loan::settled`]. The writer never blocks on one client: what the
//! socket does not take at once comes back to the session ([`Loan::returned`]),
//! which writes it itself, ahead of anything else.

use std::future::poll_fn;
use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};

use bytes::{Bytes, BytesMut};

use crate::frame::{Frame, Proto};
use crate::writer::SHUTTING_DOWN;

/// Where a lent reply is.
enum Phase {
    /// In the writer's queue or group.
    Writing,
    /// Written to the socket in full.
    Sent,
    /// Not (fully) written; these bytes are the session's to write.
    Returned(Bytes),
}

struct State {
    phase: Phase,
    /// The session task waiting on this loan, if it is.
    waker: Option<Waker>,
    /// Whether that task waits for `Sent` too, or only for `Returned`.
    wake_when_sent: bool,
}

/// The state a [`Loan`] and its [`Delivery`] share. A std mutex: each side
/// holds it for a few instructions, never across an `.await`.
struct Slot(Mutex<State>);

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The session's side of a reply lent to the writer.
pub struct Loan(Arc<Slot>);

/// The writer's side: where and how to write one job's replies.
pub struct Delivery {
    socket: Arc<TcpStream>,
    proto: Proto,
    /// How many replies the job owes, for the error sent if it never runs.
    replies: usize,
    slot: Option<Arc<Slot>>,
}

/// Lends `socket` (a duplicate of the session's descriptor) for the replies to
/// `replies` items, encoded in `proto`.
pub fn lend(socket: Arc<TcpStream>, proto: Proto, replies: usize) -> (Loan, Delivery) {
    let slot = Arc::new(Slot(Mutex::new(State {
        phase: Phase::Writing,
        waker: None,
        wake_when_sent: false,
    })));
    let delivery = Delivery {
        socket,
        proto,
        replies,
        slot: Some(Arc::clone(&slot)),
    };
    (Loan(slot), delivery)
}

impl Loan {
    /// Completes only if the writer hands the reply back; stays pending
    /// (without asking to be woken) once it has been sent.
    pub async fn returned(&self) -> Bytes {
        self.poll(false).await
    }

    /// Completes once the reply is out of the writer's hands: with nothing if
    /// it was sent, with the bytes left to write if it came back.
    pub async fn settled(self) -> Bytes {
        self.poll(true).await
    }

    async fn poll(&self, until_sent: bool) -> Bytes {
        poll_fn(|cx| {
            let mut guard = self.0.lock();
            let s = &mut *guard;
            match &mut s.phase {
                Phase::Returned(rest) => {
                    let rest = std::mem::take(rest);
                    s.phase = Phase::Sent;
                    Poll::Ready(rest)
                }
                Phase::Sent if until_sent => Poll::Ready(Bytes::new()),
                // Nothing more can happen; the caller's other branches (the
                // socket) will wake it.
                Phase::Sent => Poll::Pending,
                Phase::Writing => {
                    match &s.waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => s.waker = Some(cx.waker().clone()),
                    }
                    s.wake_when_sent = until_sent;
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl Delivery {
    /// Writes `frames` (this job's replies, after its fsync) to the client
    /// without blocking, using `buf` as scratch space; returns the bytes
    /// written. The rest goes back to the session.
    pub fn deliver(mut self, frames: &[Frame], buf: &mut BytesMut) -> usize {
        buf.clear();
        for f in frames {
            f.encode(self.proto, buf);
        }
        let written = write_nonblocking(&self.socket, buf);
        let rest = (written < buf.len()).then(|| Bytes::copy_from_slice(&buf[written..]));
        self.finish(rest);
        written
    }

    fn finish(&mut self, rest: Option<Bytes>) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        let waker = {
            let mut s = slot.lock();
            let wake = rest.is_some() || s.wake_when_sent;
            s.phase = rest.map_or(Phase::Sent, Phase::Returned);
            if wake {
                s.waker.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Drop for Delivery {
    /// A job dropped unrun (the writer stopped) still owes its client an
    /// answer, as the channel path's closed oneshot does.
    fn drop(&mut self) {
        if self.slot.is_some() {
            let mut out = BytesMut::new();
            for _ in 0..self.replies {
                Frame::error(SHUTTING_DOWN).encode(self.proto, &mut out);
            }
            self.finish(Some(out.freeze()));
        }
    }
}

/// Writes as much of `buf` as the socket takes now; returns how much. A
/// failed socket counts as taking nothing: the session meets the same error.
fn write_nonblocking(socket: &TcpStream, buf: &[u8]) -> usize {
    let mut done = 0;
    let mut s = socket;
    while done < buf.len() {
        match s.write(&buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::io::Read;
    use std::net::TcpListener;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// A connected pair: the server end non-blocking, as a session's is.
    fn pair() -> (Arc<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (Arc::new(server), client)
    }

    fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
        pin!(f).poll(&mut Context::from_waker(Waker::noop()))
    }

    fn encoded(frames: &[Frame], proto: Proto) -> Vec<u8> {
        let mut out = BytesMut::new();
        frames.iter().for_each(|f| f.encode(proto, &mut out));
        out.to_vec()
    }

    #[test]
    fn a_delivered_reply_reaches_the_client_and_settles_empty() {
        let (server, mut client) = pair();
        let frames = [Frame::ok(), Frame::Integer(7), Frame::Null];
        let (loan, delivery) = lend(server, Proto::Resp3, frames.len());
        assert!(poll_once(loan.returned()).is_pending());
        let n = delivery.deliver(&frames, &mut BytesMut::new());
        let want = encoded(&frames, Proto::Resp3);
        assert_eq!(n, want.len());
        let mut got = vec![0; want.len()];
        client.read_exact(&mut got).unwrap();
        assert_eq!(got, want);
        // Sent: nothing comes back, and waiting for a hand-back never ends.
        assert!(poll_once(loan.returned()).is_pending());
        assert_eq!(poll_once(loan.settled()), Poll::Ready(Bytes::new()));
    }

    #[test]
    fn what_a_full_socket_does_not_take_comes_back_in_order() {
        let (server, mut client) = pair();
        // Far more than loopback socket buffers hold, with nobody reading.
        let value = Bytes::from((0..32 << 20).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let frames = [Frame::Bulk(value), Frame::ok()];
        let (loan, delivery) = lend(server, Proto::Resp2, frames.len());
        let n = delivery.deliver(&frames, &mut BytesMut::new());
        let want = encoded(&frames, Proto::Resp2);
        assert!(n < want.len(), "the socket took all {n} bytes");
        let Poll::Ready(rest) = poll_once(loan.returned()) else {
            panic!("the rest was not handed back");
        };
        assert_eq!(&rest[..], &want[n..]);
        let mut got = vec![0; n];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got[..], &want[..n]);
        // Taken once: settling afterwards finds nothing more to write.
        assert_eq!(poll_once(loan.settled()), Poll::Ready(Bytes::new()));
    }

    #[test]
    fn a_delivery_dropped_unrun_answers_every_item_with_an_error() {
        let (server, _client) = pair();
        let (loan, delivery) = lend(server, Proto::Resp2, 3);
        drop(delivery);
        let err = Frame::error(SHUTTING_DOWN);
        let want = encoded(&[err.clone(), err.clone(), err], Proto::Resp2);
        assert_eq!(poll_once(loan.settled()), Poll::Ready(Bytes::from(want)));
    }

    #[test]
    fn a_session_waiting_to_settle_is_woken_when_the_writer_sends() {
        let (server, mut client) = pair();
        let (loan, delivery) = lend(server, Proto::Resp2, 1);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            delivery.deliver(&[Frame::ok()], &mut BytesMut::new())
        });
        // Parks until the writer's wake: without it this never returns.
        assert_eq!(rt.block_on(loan.settled()), Bytes::new());
        assert_eq!(writer.join().unwrap(), 5);
        let mut got = [0; 5];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"+OK\r\n");
    }
}
