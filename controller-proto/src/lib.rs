//! OpenFlow 1.3 (wire version 0x04) as the 1.3.5 specification writes it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
