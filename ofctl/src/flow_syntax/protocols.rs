//! The set of OpenFlow "protocols" (wire version plus match format) that can
//! express a flow, as `ovs-ofctl parse-flow` reports it on its
//! `usable protocols:` line.
//!
//! Open vSwitch names ten protocols (OpenFlow 1.0 with or without the
//! table-id extension, Nicira NXM likewise, OpenFlow 1.1, and OXM for 1.2 to
//! 1.6). Each field, mask kind, flag and action narrows the set; this module
//! keeps the set as a bit mask with the same meaning and prints it with the
//! same abbreviations, so the line reads exactly like `ovs-ofctl`'s.

/// A set of protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Protocols(pub u32);

/// OpenFlow 1.0 without the table-id extension.
pub const OF10_STD: u32 = 1 << 0;
/// OpenFlow 1.0 with the table-id extension.
pub const OF10_STD_TID: u32 = 1 << 1;
/// Nicira NXM without the table-id extension.
pub const OF10_NXM: u32 = 1 << 2;
/// Nicira NXM with the table-id extension.
pub const OF10_NXM_TID: u32 = 1 << 3;
/// OpenFlow 1.1.
pub const OF11_STD: u32 = 1 << 4;
/// OpenFlow 1.2 (OXM).
pub const OF12_OXM: u32 = 1 << 5;
/// OpenFlow 1.3 (OXM).
pub const OF13_OXM: u32 = 1 << 6;
/// OpenFlow 1.4 (OXM).
pub const OF14_OXM: u32 = 1 << 7;
/// OpenFlow 1.5 (OXM).
pub const OF15_OXM: u32 = 1 << 8;
/// OpenFlow 1.6 (OXM).
pub const OF16_OXM: u32 = 1 << 9;

/// Both OpenFlow 1.0 forms.
pub const OF10_STD_ANY: u32 = OF10_STD | OF10_STD_TID;
/// Both NXM forms.
pub const OF10_NXM_ANY: u32 = OF10_NXM | OF10_NXM_TID;
/// Every OXM version.
pub const ANY_OXM: u32 = OF12_OXM | OF13_OXM | OF14_OXM | OF15_OXM | OF16_OXM;
/// NXM or OXM.
pub const NXM_OXM_ANY: u32 = OF10_NXM_ANY | ANY_OXM;
/// NXM or OpenFlow 1.1 and later.
pub const NXM_OF11_UP: u32 = OF10_NXM_ANY | OF11_STD | ANY_OXM;
/// OpenFlow 1.1 and later.
pub const OF11_UP: u32 = OF11_STD | ANY_OXM;
/// OpenFlow 1.2 and later.
pub const OF12_UP: u32 = ANY_OXM;
/// OpenFlow 1.3 to 1.5 (Open vSwitch leaves 1.6 out of this set).
pub const OF13_UP: u32 = OF13_OXM | OF14_OXM | OF15_OXM;
/// Protocols that carry a table id in a flow mod.
pub const TID: u32 = OF10_STD_TID | OF10_NXM_TID | OF11_STD | ANY_OXM;
/// Everything.
pub const ANY: u32 = (1 << 10) - 1;

const ABBREVS: &[(u32, &str)] = &[
    (ANY, "any"),
    (OF10_STD_ANY, "OpenFlow10"),
    (OF10_NXM_ANY, "NXM"),
    (ANY_OXM, "OXM"),
];

const SINGLE: &[&str] = &[
    "OpenFlow10-table_id",
    "OpenFlow10+table_id",
    "NXM-table_id",
    "NXM+table_id",
    "OpenFlow11",
    "OXM-OpenFlow12",
    "OXM-OpenFlow13",
    "OXM-OpenFlow14",
    "OXM-OpenFlow15",
    "OXM-OpenFlow16",
];

impl Default for Protocols {
    fn default() -> Self {
        Self(ANY)
    }
}

impl Protocols {
    /// Every protocol.
    pub const fn any() -> Self {
        Self(ANY)
    }

    /// Narrows the set to `mask`.
    pub fn restrict(&mut self, mask: u32) {
        self.0 &= mask;
    }

    /// Whether OpenFlow 1.3 is in the set.
    pub fn has_of13(self) -> bool {
        self.0 & OF13_OXM != 0
    }
}

impl std::fmt::Display for Protocols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut p = self.0 & ANY;
        if p == 0 {
            return f.write_str("none");
        }
        let mut parts: Vec<&str> = Vec::new();
        while p != 0 {
            if let Some(&(bits, name)) = ABBREVS.iter().find(|(b, _)| p & b == *b) {
                parts.push(name);
                p &= !bits;
                continue;
            }
            let i = p.trailing_zeros();
            parts.push(SINGLE.get(i as usize).copied().unwrap_or("?"));
            p &= !(1 << i);
        }
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_print_with_ovs_abbreviations() {
        assert_eq!(Protocols(ANY).to_string(), "any");
        assert_eq!(Protocols(NXM_OXM_ANY).to_string(), "NXM,OXM");
        assert_eq!(
            Protocols(NXM_OF11_UP & TID).to_string(),
            "OXM,NXM+table_id,OpenFlow11"
        );
        assert_eq!(Protocols(NXM_OF11_UP).to_string(), "NXM,OXM,OpenFlow11");
        assert_eq!(Protocols(0).to_string(), "none");
    }
}
