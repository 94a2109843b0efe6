//! OFPT_HELLO and its elements (§7.5.1).
//!
//! A HELLO body is a list of TLV elements, each padded to 8 bytes. The only
//! element 1.3 defines is the version bitmap, from which the two ends
//! negotiate the highest common version; any other element must be ignored
//! by the receiver, so it is carried as opaque bytes rather than rejected.
//! This is the one message whose header version may differ from 0x04: the
//! decoder accepts it whatever the version (see `message.rs`).

use crate::codec::{pad8, DecodeError, Reader, Writer};
use crate::error::ofp_number;
use crate::header::{OrBadLen, OFP_VERSION};

ofp_number! {
    /// `ofp_hello_elem_type`.
    pub struct HelloElemType(u16) {
        OFPHET_VERSIONBITMAP = 1,
    }
}

/// One HELLO element.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum HelloElem {
    /// `OFPHET_VERSIONBITMAP`: bit `v % 32` of word `v / 32` is set when
    /// wire version `v` is supported.
    VersionBitmap(Vec<u32>),
    /// An element type this crate does not interpret, carried unchanged.
    Unknown {
        /// Element type.
        ty: HelloElemType,
        /// Element payload (without its 4-byte header and padding).
        data: Vec<u8>,
    },
}

/// OFPT_HELLO.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Hello {
    /// Elements in wire order.
    pub elements: Vec<HelloElem>,
}

impl Hello {
    /// The HELLO this switch sends: a version bitmap offering 1.3 only.
    pub fn v13() -> Self {
        Self {
            elements: vec![HelloElem::VersionBitmap(vec![1 << OFP_VERSION])],
        }
    }

    /// The first version bitmap element, if any.
    pub fn version_bitmap(&self) -> Option<&[u32]> {
        self.elements.iter().find_map(|e| match e {
            HelloElem::VersionBitmap(b) => Some(b.as_slice()),
            HelloElem::Unknown { .. } => None,
        })
    }

    /// Whether `bitmap` offers wire version `version`.
    pub fn bitmap_has(bitmap: &[u32], version: u8) -> bool {
        bitmap
            .get(usize::from(version / 32))
            .is_some_and(|w| w & (1 << (version % 32)) != 0)
    }

    /// Decodes a HELLO body (everything after the header).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut elements = Vec::new();
        while !r.is_empty() {
            let ty = HelloElemType(r.u16().or_bad_len("hello: element header")?);
            let len = usize::from(r.u16().or_bad_len("hello: element header")?);
            let body_len = len
                .checked_sub(4)
                .or_bad_len("hello: element length below 4")?;
            let mut body = r.sub(body_len).or_bad_len("hello: element overruns")?;
            r.skip_padding(pad8(len) - len)
                .or_bad_len("hello: element padding")?;
            elements.push(if ty == HelloElemType::OFPHET_VERSIONBITMAP {
                if !body.remaining().is_multiple_of(4) {
                    return Err(DecodeError::bad_len("hello: bitmap not whole words"));
                }
                let mut words = Vec::new();
                while let Some(word) = body.u32() {
                    words.push(word);
                }
                HelloElem::VersionBitmap(words)
            } else {
                HelloElem::Unknown {
                    ty,
                    data: body.rest().to_vec(),
                }
            });
        }
        Ok(Self { elements })
    }

    /// Appends the HELLO body.
    pub fn encode(&self, w: &mut Writer) {
        for e in &self.elements {
            let start = w.len();
            let mark = w.start_len_u16(2);
            match e {
                HelloElem::VersionBitmap(words) => {
                    w.put_u16(HelloElemType::OFPHET_VERSIONBITMAP.0);
                    w.put_u16(0);
                    for word in words {
                        w.put_u32(*word);
                    }
                }
                HelloElem::Unknown { ty, data } => {
                    w.put_u16(ty.0);
                    w.put_u16(0);
                    w.put_bytes(data);
                }
            }
            let _ = w.finish_len(mark);
            w.pad_from(start, 8);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn arb_hello() -> impl Strategy<Value = Hello> {
        let elem = prop_oneof![
            proptest::collection::vec(any::<u32>(), 0..4).prop_map(HelloElem::VersionBitmap),
            (2u16.., proptest::collection::vec(any::<u8>(), 0..12)).prop_map(|(ty, data)| {
                HelloElem::Unknown {
                    ty: HelloElemType(ty),
                    data,
                }
            }),
        ];
        proptest::collection::vec(elem, 0..3).prop_map(|elements| Hello { elements })
    }

    #[test]
    fn v13_hello_offers_only_version_four() {
        let mut w = Writer::new();
        Hello::v13().encode(&mut w);
        assert_eq!(w.as_slice(), &[0, 1, 0, 8, 0, 0, 0, 0x10]);
        let bm = Hello::v13();
        let bm = bm.version_bitmap().unwrap();
        assert!(Hello::bitmap_has(bm, 4));
        assert!(!Hello::bitmap_has(bm, 1));
        assert!(!Hello::bitmap_has(bm, 40));
    }

    #[test]
    fn unknown_elements_are_carried() {
        let bytes = [0, 9, 0, 6, 0xaa, 0xbb, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0x12];
        let h = Hello::decode(&mut Reader::new(&bytes)).unwrap();
        assert_eq!(
            h.elements[0],
            HelloElem::Unknown {
                ty: HelloElemType(9),
                data: vec![0xaa, 0xbb]
            }
        );
        assert_eq!(h.version_bitmap(), Some(&[0x12][..]));
        let mut w = Writer::new();
        h.encode(&mut w);
        assert_eq!(w.as_slice(), &bytes);
    }

    #[test]
    fn rejects_element_shorter_than_its_header() {
        let e = Hello::decode(&mut Reader::new(&[0, 1, 0, 2, 0, 0, 0, 0])).unwrap_err();
        assert_eq!(e.wire(), (1, 6));
    }

    #[test]
    fn rejects_bitmap_of_partial_words() {
        assert!(Hello::decode(&mut Reader::new(&[0, 1, 0, 6, 0, 0x10, 0, 0])).is_err());
    }

    proptest! {
        #[test]
        fn hello_bodies_round_trip(h in arb_hello()) {
            let mut w = Writer::new();
            h.encode(&mut w);
            prop_assert_eq!(w.len() % 8, 0);
            let d = Hello::decode(&mut Reader::new(w.as_slice())).unwrap();
            prop_assert_eq!(d, h);
        }
    }
}
