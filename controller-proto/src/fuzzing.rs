//! Fuzzing harnesses, shared by the cargo-fuzz targets (`fuzz/`) and by the
//! stable test that replays their corpora (`tests/fuzz_corpus.rs`).
//!
//! Each harness takes arbitrary bytes and panics exactly when an invariant
//! of the codec is broken, so a fuzzer's crash is a real bug and a corpus
//! replay on stable catches regressions without a fuzzer installed.

use crate::conn::{Config, Connection, Side};
use crate::framer::{frame_len, Framer};
use crate::message::Message;

/// `Message::decode` never panics, and whatever it accepts re-encodes to
/// bytes that decode to the same message, which re-encode identically
/// (encoding is a fixed point after one round).
pub fn decode_roundtrip(data: &[u8]) {
    let Ok((header, msg)) = Message::decode(data) else {
        return;
    };
    let bytes = msg.encode(header.xid);
    let (header2, msg2) = match Message::decode(&bytes) {
        Ok(v) => v,
        Err(e) => panic!("re-encoded {msg:?} does not decode: {e}"),
    };
    assert_eq!(msg2, msg, "decode(encode(m)) != m");
    assert_eq!(header2.xid, header.xid);
    assert_eq!(header2.msg_type, header.msg_type);
    assert_eq!(
        msg2.encode(header.xid),
        bytes,
        "encoding is not a fixed point"
    );
}

/// The framer splits `data` into the same frames whatever the chunking of
/// the stream (chunk sizes are drawn from the data itself), agrees with a
/// one-shot parse, and a connection fed the same stream never panics and
/// only ever transmits messages that decode.
pub fn framer_roundtrip(data: &[u8]) {
    // The reference: walk the whole buffer at once.
    let mut want: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    let mut want_err = false;
    loop {
        match frame_len(rest) {
            Ok(Some(n)) if n <= rest.len() => {
                let (frame, tail) = rest.split_at(n);
                want.push(frame);
                rest = tail;
            }
            Ok(_) => break,
            Err(_) => {
                want_err = true;
                break;
            }
        }
    }

    let step = 1 + usize::from(data.first().copied().unwrap_or(0) % 61);
    let mut framer = Framer::new();
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut got_err = false;
    for chunk in data.chunks(step) {
        if framer.push(chunk, |f| got.push(f.to_vec())).is_err() {
            got_err = true;
            break;
        }
    }
    assert_eq!(got_err, want_err, "framing error disagreement");
    assert_eq!(got.len(), want.len(), "frame count disagreement");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.as_slice(), *w);
    }

    for side in [Side::Switch, Side::Controller] {
        let mut conn = Connection::new(Config::new(side), 0);
        // Complete the handshake first so the rest reaches the message path.
        let hello = Message::Hello(crate::hello::Hello::v13()).encode(1);
        conn.handle_input(&hello, 0);
        for (i, chunk) in data.chunks(step).enumerate() {
            let now = u64::try_from(i).unwrap_or(u64::MAX).saturating_mul(1000);
            conn.handle_input(chunk, now);
            conn.handle_timeout(now);
            while let Some(out) = conn.poll_transmit() {
                if let Err(e) = Message::decode(&out) {
                    panic!("connection transmitted an undecodable message: {e}");
                }
            }
            while conn.poll_event().is_some() {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn harnesses_accept_empty_and_tiny_inputs() {
        for d in [
            &[][..],
            &[4][..],
            &[4, 0, 0, 8][..],
            &[4, 0, 0, 8, 0, 0, 0, 0][..],
        ] {
            decode_roundtrip(d);
            framer_roundtrip(d);
        }
    }

    proptest! {
        #[test]
        fn harnesses_hold_on_random_streams(mut d in proptest::collection::vec(any::<u8>(), 0..300)) {
            // Make most inputs look like OpenFlow so the deeper paths run.
            if d.len() >= 4 {
                d[0] = 4;
                let len = u16::try_from(d.len().min(64)).unwrap_or(8).max(8);
                d[2..4].copy_from_slice(&len.to_be_bytes());
            }
            decode_roundtrip(&d);
            framer_roundtrip(&d);
        }
    }
}
